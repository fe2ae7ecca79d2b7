import { Lab } from '/work/main/dist/benchmarks/lab/lab.js';
import { createPacketTopology, macOf } from '/work/main/dist/benchmarks/runs/topology.js';
import { Testpmd } from '/work/main/dist/benchmarks/tools/testpmd.js';
import { startWorker } from '/work/main/dist/benchmarks/runs/worker-client.js';
const mode = process.argv[2] ?? 'native';
const engine = process.argv[3] ?? 'rxonly';
const lab = new Lab('exp');
try {
  const t = createPacketTopology(lab, { queues: 1 });
  const macs = { dut: macOf(lab, t.dut), peer: macOf(lab, t.peer) };
  for (let i = 0; i < 3; i++) for (const cfg of JSON.parse(process.argv[4])) { const bp = cfg.bp ?? 0;
    const gen = startWorker(lab, { netns: t.peer.netns, ifname: t.peer.ifname, engine: 'txonly', mode, seconds: 30, warmupMs: 0, batch: 64, sampleMs: 0, txBudget: 256, cpu: 0, srcMac: macs.peer, dstMac: macs.dut });
    await gen.ready;
    if (cfg.testpmd) {
      const pmd = new Testpmd({ netns: t.dut.netns, ifname: t.dut.ifname, forwardMode: engine, filePrefix: lab.name('tp') + i, lcores: [0, 1], mainLcore: 0, txpkts: 64, ...(engine === 'io' ? { appArgs: ['--port-topology=loop'] } : {}) });
      await pmd.start(lab);
      const t0 = Date.now(); const g0 = performance.now();
      await new Promise((r) => setTimeout(r, 4000));
      const to = performance.now();
      await pmd.sampleAfter(to, 2500);
      const res = await pmd.stop();
      gen.stop(); const g = await gen.done;
      const { rateFromSamples } = await import('/work/main/dist/benchmarks/tools/testpmd.js');
      const rate = rateFromSamples(res.samples, engine === 'rxonly' ? (x) => x.rxPackets : (x) => x.txPackets, g0 + 900, to + 1100);
      console.log(`testpmd mpps=${(rate.pps / 1e6).toFixed(3)} gen=${(g.tx / g.seconds / 1e6).toFixed(3)}`);
      continue;
    }
    const w = startWorker(lab, { netns: t.dut.netns, ifname: t.dut.ifname, engine, mode, seconds: 3, warmupMs: 1000, batch: 64, sampleMs: 0, cpu: 1, busyPollBudget: bp, txBudget: 256, ...cfg, srcMac: macs.dut, dstMac: macs.peer });
    const r = await w.done;
    gen.stop(); const g = await gen.done;
    console.log(`${JSON.stringify(cfg)} mpps=${(r.packets / r.seconds / 1e6).toFixed(3)} gen=${(g.tx / g.seconds / 1e6).toFixed(3)} user=${r.windowCpu?.userSeconds.toFixed(2)} sys=${r.windowCpu?.systemSeconds.toFixed(2)}`);
  }
} finally { lab.close(); }
