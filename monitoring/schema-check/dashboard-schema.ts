// The shape whisper-dashboard.json must have: Grafana's published Dashboard type, with each panel
// narrowed to the plugin it names (its options and field config typed by that plugin's schema) and
// each target a Prometheus query on a data source reference.
import type { DataQuery, Dashboard, DataSourceRef, FieldConfigSource, Panel } from '@grafana/schema';
import type {
  FieldConfig as TimeSeriesFieldConfig,
  Options as TimeSeriesOptions,
} from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';
import type { Options as StatOptions } from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type { JsonOf } from './json-of';

type PrometheusTarget = JsonOf<DataQuery> & {
  datasource: DataSourceRef;
  expr: string;
  legendFormat?: string;
  range?: boolean;
  instant?: boolean;
};

type PanelBase = JsonOf<Omit<Panel, 'type' | 'options' | 'fieldConfig' | 'targets'>> & {
  targets: PrometheusTarget[];
};

type TimeSeriesPanel = PanelBase & {
  type: 'timeseries';
  options: JsonOf<TimeSeriesOptions>;
  fieldConfig: JsonOf<FieldConfigSource<TimeSeriesFieldConfig>>;
};

type StatPanel = PanelBase & {
  type: 'stat';
  options: JsonOf<StatOptions>;
  fieldConfig: JsonOf<FieldConfigSource>;
};

export type WhisperDashboard = JsonOf<Omit<Dashboard, 'panels'>> & {
  panels: Array<TimeSeriesPanel | StatPanel>;
};
