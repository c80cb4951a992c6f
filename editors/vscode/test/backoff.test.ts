// RestartPolicy: delays double up to the cap, reset after a stable run or by hand, one notice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RestartPolicy } from '../src/backoff';

function clock() {
  let t = 1000;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}

test('delays double from initialMs up to maxMs; only the first crash notifies', () => {
  const c = clock();
  const p = new RestartPolicy({ initialMs: 1000, maxMs: 8000, stableMs: 60000 }, c.now);
  const delays: number[] = [];
  const notices: boolean[] = [];
  for (let i = 0; i < 6; i++) {
    p.started();
    c.advance(500);  // crashes quickly each time
    const d = p.crashed();
    delays.push(d.delayMs);
    notices.push(d.notify);
    assert.equal(d.attempt, i + 1);
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 8000, 8000]);
  assert.deepEqual(notices, [true, false, false, false, false, false]);
  assert.equal(p.crashes, 6);
});

test('a server that ran for stableMs starts the sequence again, still without a second notice', () => {
  const c = clock();
  const p = new RestartPolicy({ initialMs: 100, maxMs: 1000, stableMs: 5000 }, c.now);
  p.started();
  assert.equal(p.crashed().delayMs, 100);
  p.started();
  assert.equal(p.crashed().delayMs, 200);
  p.started();
  c.advance(5000);
  const d = p.crashed();
  assert.equal(d.delayMs, 100);
  assert.equal(d.attempt, 1);
  assert.equal(d.notify, false);
});

test('a crash before the server ever ran keeps backing off', () => {
  const c = clock();
  const p = new RestartPolicy({ initialMs: 100, maxMs: 1000, stableMs: 10 }, c.now);
  p.crashed();
  c.advance(100000);  // long ago, but it never started
  assert.equal(p.crashed().delayMs, 200);
});

test('reset (a restart by hand) starts over and notifies again', () => {
  const p = new RestartPolicy({ initialMs: 100, maxMs: 1000, stableMs: 5000 }, clock().now);
  p.crashed();
  p.crashed();
  p.reset();
  const d = p.crashed();
  assert.equal(d.delayMs, 100);
  assert.equal(d.notify, true);
});
