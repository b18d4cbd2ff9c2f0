"""musicgen's Chopin network in Keras (TensorFlow backend), timed one training
step at a time.

  seed:  x [B, T, 1] = token index / vocab
  embed: ids [B, T] int64 -> Embedding(vocab, 64) -> [B, T, 64]
  then LSTM(512, return_sequences) -> Dropout(0.1) -> LSTM(256)
  -> Dense(256, no activation) -> Dropout(0.1) -> Dense(vocab): logits [B, vocab];
  sparse categorical cross-entropy from logits, Adamax(0.01).
Keras' default initialisers are the ones musicgen copies.

The step is model.train_on_batch on tensors made once: Keras' own one-batch
training call, which runs its compiled tf.function train step (forward, loss,
gradients, Adamax) and returns the loss. A hand-written tf.function with a
GradientTape does the same work and timed the same to within noise, so the
plain Keras call is used. XLA stays off: jit_compile is False, which is also
what Keras' "auto" picks on a CPU-only machine.

    keras_chopin.py [--model seed|embed] [--threads N] [--steps N] [--warmup N] [--batch B] [--vocab V]
                    [--precision fp32|bf16]

--precision bf16 sets Keras' "mixed_bfloat16" policy before the model is
built: every layer computes in bfloat16 with float32 variables, Adamax
updates those float32 variables, and the loss casts the logits to float32
(Keras losses compute in floatx).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def main():
    p = common.parser("Keras Chopin LSTM training step", ["seed", "embed"], "seed", common.CHOPIN_BATCH)
    p.add_argument("--vocab", type=int, default=common.CHOPIN_VOCAB)
    args = p.parse_args()
    common.check_args(p, args)
    if args.vocab < 2:
        p.error("--vocab must be >= 2")

    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    # Thread pools are fixed at TensorFlow's first op: set them before anything runs.
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    import_rss = common.rss_mib()
    keras.utils.set_random_seed(1)
    if args.precision == "bf16":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")

    T = common.CHOPIN_STEPS
    if args.model == "seed":
        inputs = keras.Input((T, 1), batch_size=args.batch)
        seq = inputs
    else:
        inputs = keras.Input((T,), batch_size=args.batch, dtype="int64")
        seq = keras.layers.Embedding(args.vocab, 64)(inputs)
    h = keras.layers.LSTM(512, return_sequences=True)(seq)
    h = keras.layers.Dropout(0.1)(h)
    h = keras.layers.LSTM(256)(h)
    h = keras.layers.Dense(256)(h)
    h = keras.layers.Dropout(0.1)(h)
    logits = keras.layers.Dense(args.vocab)(h)
    model = keras.Model(inputs, logits)
    model.compile(optimizer=keras.optimizers.Adamax(learning_rate=0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=False)
    parameters = int(sum(v.numpy().size for v in model.trainable_variables))

    ids, targets = common.chopin_ids(args.batch, T, args.vocab)
    ids = tf.reshape(tf.constant(ids, dtype=tf.int64), (args.batch, T))
    x = tf.cast(ids, tf.float32)[:, :, None] / args.vocab if args.model == "seed" else ids
    y = tf.constant(targets, dtype=tf.int64)

    def step():
        return float(model.train_on_batch(x, y))

    step_s, loss_first = common.time_steps(step, args.steps, args.warmup)
    if args.precision == "bf16":
        # Checked after the timing, so that only the warm-up step runs before the timed ones, as in fp32:
        # the layers compute in bfloat16, the variables stay float32, and so does the loss.
        print(f"compute dtypes: {', '.join(sorted({layer.compute_dtype for layer in model.layers[1:]}))}; "
              f"variables: {', '.join(sorted({v.dtype for v in model.trainable_variables}))}; "
              f"loss: {model.loss(y, model(x)).dtype.name}", flush=True)
    threads = args.threads or len(os.sched_getaffinity(0))
    common.print_result("chopin", "keras", keras.__version__, args.model, threads, step_s, args.batch, loss_first,
                        parameters, import_rss, args.precision, tensorflow=tf.__version__)


if __name__ == "__main__":
    main()
