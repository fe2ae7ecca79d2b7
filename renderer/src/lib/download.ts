// Files for the user to save: text through a blob: URL, charts as PNG data: URLs. The page shows
// a link with the download attribute; nothing is sent anywhere.

export interface Download { href: string; fileName: string; bytes: number }

export function textDownload(content: string, fileName: string, mediaType: string): Download {
  const blob = new Blob([content], { type: mediaType });
  return { href: URL.createObjectURL(blob), fileName, bytes: blob.size };
}

export function releaseDownload(d: Download | undefined): void {
  if (d?.href.startsWith('blob:')) URL.revokeObjectURL(d.href);
}

export function sizeText(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : bytes < 1 << 20 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}
