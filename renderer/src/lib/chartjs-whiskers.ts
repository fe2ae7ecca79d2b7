// Chart.js with chartjs-chart-error-bars' bar controller: a bar per row (the median) with its
// interval drawn as whiskers.
import { BarWithErrorBar, BarWithErrorBarsController } from 'chartjs-chart-error-bars';
import { Chart } from './chartjs.js';

Chart.register(BarWithErrorBarsController, BarWithErrorBar);

export { Chart };
export { colour, themeColours } from './chartjs.js';
