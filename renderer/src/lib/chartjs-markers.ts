// Chart.js with chartjs-plugin-annotation, for the charts that draw markers (vertical lines).
// Kept apart from chartjs.ts so the plain charts do not load the plugin.
import annotationPlugin from 'chartjs-plugin-annotation';
import { Chart } from './chartjs.js';

Chart.register(annotationPlugin);

export { Chart };
export { colour, themeColours } from './chartjs.js';
