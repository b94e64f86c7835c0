/** The results table: each figure with its target, its ratio to the physical limit, pass or miss. */
import type { Figure } from './stats.js';

export interface Target {
  op: '>=' | '<=' | '==';
  value: number;
  /** How the target reads in the table, e.g. "≥ 4,000". */
  text: string;
}

export interface Row {
  id: string;
  what: string;
  unit: string;
  figure: Figure;
  target?: Target;
  /** The figure over its raw mysql2 counterpart, per repetition. */
  ratio?: { to: string; figure: Figure };
  /** Whether the ratio (not the figure) is what the target applies to. */
  targetOnRatio?: boolean;
  note?: string;
}

export function passes(row: Row): boolean | undefined {
  if (row.target === undefined) return undefined;
  const value = row.targetOnRatio ? row.ratio?.figure.median : row.figure.median;
  if (value === undefined || Number.isNaN(value)) return false;
  switch (row.target.op) {
    case '>=':
      return value >= row.target.value;
    case '<=':
      return value <= row.target.value;
    case '==':
      return value === row.target.value;
  }
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toLocaleString('en-US');
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  if (abs === 0) return '0';
  return value.toPrecision(2);
}

function formatFigure(figure: Figure, unit: string): string {
  const range = figure.samples.length > 1 && figure.min !== figure.max ? ` (${formatNumber(figure.min)}–${formatNumber(figure.max)})` : '';
  return `${formatNumber(figure.median)}${unit === '' ? '' : ` ${unit}`}${range}`;
}

export function markdownTable(rows: readonly Row[]): string {
  const lines = ['| id | measure | target | measured: median (min–max) | ratio to the baseline named | result |', '|---|---|---|---|---|---|'];
  for (const row of rows) {
    const pass = passes(row);
    const ratio = row.ratio === undefined ? '' : `${formatFigure(row.ratio.figure, '')} × ${row.ratio.to}`;
    const result = pass === undefined ? '' : pass ? 'pass' : '**miss**';
    const what = row.note === undefined ? row.what : `${row.what} — ${row.note}`;
    lines.push(`| ${row.id} | ${what} | ${row.target?.text ?? ''} | ${formatFigure(row.figure, row.unit)} | ${ratio} | ${result} |`);
  }
  return lines.join('\n');
}
