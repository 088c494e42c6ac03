import { describe, expect, it } from 'vitest';
import { formatKeyValues, formatTable } from './table';

describe('formatTable', () => {
  it('aligns text left and numeric columns right', () => {
    const out = formatTable(['Topic', 'Queues'], [
      ['alpha', 4],
      ['b', 16],
    ]);
    expect(out.split('\n')).toEqual(['Topic  Queues', 'alpha       4', 'b          16']);
  });
  it('shows missing cells as -', () => {
    expect(formatTable(['a', 'b'], [['x', undefined]])).toBe('a  b\nx  -');
  });
  it('formats key/value views', () => {
    expect(formatKeyValues([['Topic', 'T'], ['Queue ID', 3]])).toBe('Topic    : T\nQueue ID : 3');
  });
});
