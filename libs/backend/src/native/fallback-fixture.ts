/**
 * Child process of fallback.test.ts: starts the wasm backend the way vicinal
 * does (VICINAL_NATIVE_KERNELS comes from the parent), computes a conv-net
 * gradient on it and on cpu, and prints one JSON line: the backend's native
 * info, the relative error and the native/fallback call counts.
 */
import '@tensorflow/tfjs-backend-cpu';
import { initBackend, tf } from '../backend.js';
import { relativeError } from '../kernels/reference.js';
import { nativeCallCounts } from './common.js';

const info = await initBackend('wasm');

function gradient(): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(
      Array.from({ length: 2 * 8 * 8 * 3 }, (_, i) => Math.sin(i)),
      [2, 8, 8, 3],
    );
    const w = tf.tensor4d(
      Array.from({ length: 3 * 3 * 3 * 4 }, (_, i) => Math.cos(i)),
      [3, 3, 3, 4],
    );
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(
        tf.square(
          tf.maxPool(
            tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'),
            2,
            2,
            'valid',
          ),
        ),
      ),
    )([x, w]);
    return Float32Array.from(
      tf.concat([tf.reshape(dx, [-1]), tf.reshape(dw, [-1])]).dataSync(),
    );
  });
}

const onWasm = gradient();
await tf.setBackend('cpu');
const onCpu = gradient();
process.stdout.write(
  `${JSON.stringify({
    native: info.native,
    error: relativeError(onWasm, onCpu),
    counts: Object.fromEntries(nativeCallCounts),
  })}\n`,
);
