import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import { type ProgressState, ProgressTracker } from '../src/progress';

describe('ProgressTracker', () => {
  it('is busy from begin to end, across overlapping tokens', () => {
    const states: ProgressState[] = [];
    const tracker = new ProgressTracker((state) => states.push(state));
    tracker.handle('a', { kind: 'begin', title: 'Resolving 6 images', percentage: 0 });
    tracker.handle('a', { kind: 'report', message: '3/6', percentage: 50 });
    tracker.handle(7, { kind: 'begin', title: 'Pinning 6 images' });
    tracker.handle('a', { kind: 'end', message: 'done' });
    assert.deepEqual(tracker.state(), { busy: true, detail: 'dockpin: Pinning 6 images' });
    tracker.handle(7, { kind: 'end' });
    assert.deepEqual(
      states.map((s) => [s.busy, s.detail]),
      [
        [true, 'dockpin: Resolving 6 images - 0%'],
        [true, 'dockpin: Resolving 6 images - 3/6 - 50%'],
        [true, 'dockpin: Pinning 6 images (+1 more)'],
        [true, 'dockpin: Pinning 6 images'],
        [false, ''],
      ],
    );
  });

  it('ignores reports and ends for unknown tokens, and clears on a server stop', () => {
    const states: ProgressState[] = [];
    const tracker = new ProgressTracker((state) => states.push(state));
    tracker.handle('x', { kind: 'report', message: '1/2' });
    tracker.handle('x', { kind: 'end' });
    assert.equal(states.length, 0);
    tracker.handle('y', { kind: 'begin', title: 'Resolving' });
    tracker.clear();
    tracker.clear();
    assert.deepEqual(
      states.map((s) => s.busy),
      [true, false],
    );
  });
});
