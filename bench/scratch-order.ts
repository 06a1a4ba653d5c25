// Temporary experiment: how many event-loop turns does a 100 KB request need?
import { RemoteTeacher } from '@vicinal/training';
const remote = await RemoteTeacher.connect(process.argv[2], 'bench-teacher');
const block = (ms: number) => { const t = performance.now(); while (performance.now() - t < ms) {} };
const B = 128;
const query = {
  images: new Uint8Array(B * 784).fill(7),
  shape: [B, 28, 28, 1] as [number, number, number, number],
  partner: Int32Array.from({ length: B }, (_, i) => i),
  lambda: new Float32Array(B).fill(1),
};
for (let i = 0; i < 2; i++) await remote.softLabels(query);
const variants: [string, () => Promise<unknown>][] = [
  ['1 immediate', async () => { await new Promise((r) => setImmediate(r)); }],
  ['4 immediates', async () => { for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r)); }],
  ['16 immediates', async () => { for (let i = 0; i < 16; i++) await new Promise((r) => setImmediate(r)); }],
  ['timeout 1ms', async () => { await new Promise((r) => setTimeout(r, 1)); }],
  ['timeout 5ms', async () => { await new Promise((r) => setTimeout(r, 5)); }],
  ['4 x timeout 1ms', async () => { for (let i = 0; i < 4; i++) await new Promise((r) => setTimeout(r, 1)); }],
];
for (const [name, yieldFn] of variants) {
  const times: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const t = performance.now();
    const p = remote.softLabels(query);
    const y = performance.now();
    await yieldFn();
    const yielded = performance.now() - y;
    block(300);
    await p;
    times.push(Math.round(performance.now() - t - 300 - yielded));
  }
  console.log(name.padEnd(16), 'extra ms after block', times.join(' '));
}
await remote.close();
process.exit(0);
