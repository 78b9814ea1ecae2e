import { describe, expect, it } from 'vitest';
import { placeByRule } from '../../src/operations/targets.js';

describe('placement rule of a new workspace (docs/fleet.md, Placement)', () => {
  it('picks the target with the fewest counted workspaces', () => {
    const counts = new Map<string | null, number>([[null, 0], ['eu1', 5], ['eu2', 3], ['eu3', 4]]);
    expect(placeByRule(['eu1', 'eu2', 'eu3'], [], counts)).toBe('eu2');
  });

  it('never picks the master database once targets exist, even when it holds fewer', () => {
    expect(placeByRule(['eu1'], [], new Map([[null, 0], ['eu1', 100]]))).toBe('eu1');
  });

  it('counts a target absent from the registry as 0 and skips full targets', () => {
    const counts = new Map<string | null, number>([['eu1', 2], ['eu2', 1]]);
    expect(placeByRule(['eu1', 'eu2', 'eu3'], [], counts)).toBe('eu3');
    expect(placeByRule(['eu1', 'eu2', 'eu3'], ['eu3', 'eu2'], counts)).toBe('eu1');
  });

  it('breaks ties by name order, whatever order the config lists them in', () => {
    const counts = new Map<string | null, number>([['b', 1], ['a', 1], ['c', 1]]);
    expect(placeByRule(['c', 'b', 'a'], [], counts)).toBe('a');
    expect(placeByRule(['c', 'b', 'a'], ['a'], counts)).toBe('b');
  });

  it('returns undefined when every target is full', () => {
    expect(placeByRule(['a', 'b'], ['a', 'b'], new Map())).toBeUndefined();
  });
});
