using System.Diagnostics;
using Xunit;
using static Compiled.Runtime.Tests.Training.FitTests;

namespace Compiled.Runtime.Tests.Training;

/// <summary>
/// One model from many threads: predictions are bit-identical to single-threaded ones, and training is exclusive (a
/// prediction or a second <c>Fit</c> from another thread during <c>Fit</c> throws <see cref="InvalidOperationException"/>,
/// and never changes the training).
/// </summary>
public sealed class ThreadSafetyTests(ITestOutputHelper output)
{
    private const int Threads = 8, Calls = 100_000, Distinct = 1024;

    /// <summary>Distinct inputs, so a prediction that used another call's workspace shows in its output.</summary>
    private static float[] Inputs()
    {
        var x = new float[Distinct * IrisData.Features];
        var rng = new Rng(7);
        for (int i = 0; i < x.Length; i++) x[i] = 4 * rng.NextFloat() - 2;
        return x;
    }

    [Fact]
    public void Eight_threads_of_100000_predictions_match_single_threaded_bit_for_bit()
    {
        var model = new IrisNet(seed: 3);
        model.Fit(IrisData.Train, epochs: 2, batchSize: 8, cancellationToken: TestContext.Current.CancellationToken);
        float[] x = Inputs();
        int o = IrisData.Classes;

        // Single-threaded reference, one sample per call.
        var expected = new float[Distinct * o];
        for (int i = 0; i < Distinct; i++)
            model.Predict(x.AsSpan(i * IrisData.Features, IrisData.Features), expected.AsSpan(i * o, o));

        var mismatches = new int[Threads];
        var clock = Stopwatch.StartNew();
        var threads = new Thread[Threads];
        using var start = new ManualResetEventSlim();
        for (int t = 0; t < Threads; t++)
        {
            int id = t;
            threads[t] = new Thread(() =>
            {
                Span<float> y = stackalloc float[3];
                start.Wait();
                for (int call = 0; call < Calls; call++)
                {
                    int i = (call * 31 + id * 97) % Distinct;
                    model.Predict(x.AsSpan(i * IrisData.Features, IrisData.Features), y);
                    if (!y.SequenceEqual(expected.AsSpan(i * o, o))) mismatches[id]++;
                }
            });
            threads[t].Start();
        }
        start.Set();
        foreach (Thread thread in threads) thread.Join();
        clock.Stop();
        output.WriteLine($"{Threads} threads x {Calls:N0} predictions: {mismatches.Sum()} mismatches, {clock.Elapsed.TotalSeconds:F2} s " +
            $"({clock.Elapsed.TotalMilliseconds * 1e6 / (Threads * (double)Calls):F0} ns per prediction on this loaded 2-core machine)");
        Assert.Equal(0, mismatches.Sum());
    }

    [Fact]
    public void Batched_predictions_from_many_threads_match_too()
    {
        var model = new IrisNet(seed: 4);
        float[] x = Inputs();
        var data = new Dataset(x, new float[Distinct], IrisData.Features, 1);
        // The reference per batch size: a kernel's row blocking may round a row differently in another batch size.
        float[][] expected = Enumerable.Range(0, 20).Select(r => model.Predict(data, batchSize: 64 + r)).ToArray();
        int bad = 0;
        Parallel.For(0, Threads, _ =>
        {
            for (int r = 0; r < 20; r++)
            {
                float[] got = model.Predict(data, batchSize: 64 + r);
                if (!got.AsSpan().SequenceEqual(expected[r])) Interlocked.Increment(ref bad);
            }
        });
        Assert.Equal(0, bad);
    }

    [Fact]
    public void Single_thread_prediction_cost_of_the_guard()
    {
        // The cost the thread-safety adds to one single-sample prediction: the compare-and-swap that takes the model's
        // inference workspace, the release and two version reads. Measured against the whole call (rough: loaded machine).
        var model = new IrisNet(seed: 5);
        float[] x = Inputs();
        Span<float> y = stackalloc float[3];
        const int N = 100_000;
        var sync = new CompilerServices.ModelSync(64);
        double predict = 0, guard = 0;
        long bytes = 0;
        var clock = new Stopwatch();
        for (int round = 0; round < 2; round++) // the first round warms up (JIT tiers)
        {
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            clock.Restart();
            for (int i = 0; i < N; i++) model.Predict(x.AsSpan(i % Distinct * 4, 4), y);
            predict = clock.Elapsed.TotalMilliseconds * 1e6 / N;
            bytes = GC.GetAllocatedBytesForCurrentThread() - allocated;
            clock.Restart();
            for (int i = 0; i < N; i++)
            {
                CompilerServices.InferenceLease lease = sync.EnterInference(1);
                sync.ExitInference(lease);
            }
            guard = clock.Elapsed.TotalMilliseconds * 1e6 / N;
        }
        output.WriteLine($"IrisNet single-sample Predict: {predict:F0} ns per call; the guard alone (enter + exit): {guard:F1} ns " +
            $"({100 * guard / predict:F1}% of the call); {bytes} bytes allocated in {N:N0} calls");
        Assert.Equal(0, bytes);
    }

    [Fact]
    public void Predict_from_another_thread_during_Fit_throws_and_leaves_training_unchanged()
    {
        float[] x = Inputs();
        InvalidOperationException? seen = null;
        int[] sameThread = [-1];
        var model = new IrisNet(seed: 6);
        History history = model.Fit(IrisData.Train, epochs: 2, batchSize: 8, cancellationToken: TestContext.Current.CancellationToken,
            progress: new SyncProgress(p =>
            {
                if (p.Epoch != 1 || p.Batch != 5) return;
                // Another thread predicts while this one is in the middle of Fit.
                seen = Assert.Throws<InvalidOperationException>(() => OnAnotherThread(() => model.PredictClass(x.AsSpan(0, 4))));
                // The training thread itself may predict (validation does).
                sameThread[0] = model.PredictClass(x.AsSpan(0, 4));
            }));
        Assert.NotNull(seen);
        output.WriteLine(seen!.Message);
        Assert.Contains("Fit is training it", seen.Message);
        Assert.InRange(sameThread[0], 0, 2);

        var alone = new IrisNet(seed: 6);
        History reference = alone.Fit(IrisData.Train, epochs: 2, batchSize: 8, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(reference.Select(e => e.Loss), history.Select(e => e.Loss));
        Assert.Equal(SafetensorsBits(alone), SafetensorsBits(model));

        // After Fit, predictions from any thread work again.
        Assert.InRange(OnAnotherThread(() => model.PredictClass(x.AsSpan(0, 4))), 0, 2);
    }

    [Fact]
    public void A_second_Fit_from_another_thread_throws()
    {
        var model = new IrisNet(seed: 8);
        InvalidOperationException? seen = null;
        History history = model.Fit(IrisData.Train, epochs: 2, batchSize: 8, cancellationToken: TestContext.Current.CancellationToken,
            progress: new SyncProgress(p =>
            {
                if (p.Epoch != 1 || p.Batch != 3) return;
                seen = Assert.Throws<InvalidOperationException>(() => OnAnotherThread(() =>
                    model.Fit(IrisData.Train, epochs: 1, cancellationToken: TestContext.Current.CancellationToken)));
                // Saving or loading weights from another thread would tear them: refused too.
                using var dir = new TempDirectory();
                string path = dir.File("w.safetensors");
                Assert.Contains("Cannot save", Assert.Throws<InvalidOperationException>(() => OnAnotherThread(() =>
                {
                    model.Save(path);
                    return 0;
                })).Message);
                model.Save(path); // the training thread itself may
                Assert.Contains("Cannot load weights into", Assert.Throws<InvalidOperationException>(() => OnAnotherThread(() =>
                {
                    model.LoadWeights(path);
                    return 0;
                })).Message);
            }));
        Assert.NotNull(seen);
        output.WriteLine(seen!.Message);
        Assert.Contains("already being trained", seen.Message);
        Assert.Equal(2, history.Count);
        // A direct training step from another thread is refused as well.
        var again = new IrisNet(seed: 8);
        InvalidOperationException? step = null;
        again.Fit(IrisData.Train, epochs: 1, batchSize: 8, cancellationToken: TestContext.Current.CancellationToken,
            progress: new SyncProgress(p =>
            {
                if (p.Batch == 2)
                    step = Assert.Throws<InvalidOperationException>(() => OnAnotherThread(() =>
                        again.ComputeGradients(new float[4], new float[1], default, 1)));
            }));
        Assert.NotNull(step);
        // And once Fit has returned, Fit from another thread works.
        Assert.Single(OnAnotherThread(() => model.Fit(IrisData.Train, epochs: 1, cancellationToken: TestContext.Current.CancellationToken)));
    }

    [Fact]
    public void Predictions_racing_a_Fit_either_throw_or_come_from_weights_no_step_changed()
    {
        // Stress: a thread predicts in a loop while another trains. Every prediction either throws
        // InvalidOperationException or returns; the training matches a run with no one predicting.
        var model = new IrisNet(seed: 9);
        float[] x = Inputs();
        using var stop = new CancellationTokenSource();
        int thrown = 0, returned = 0;
        var predictor = new Thread(() =>
        {
            Span<float> y = stackalloc float[3];
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    model.Predict(x.AsSpan(0, 4), y);
                    returned++;
                }
                catch (InvalidOperationException)
                {
                    Interlocked.Increment(ref thrown);
                }
            }
        });
        predictor.Start();
        // Mid-run, Fit waits (up to 10 s) until the predictor has been refused, so the two surely overlap.
        History history = model.Fit(IrisData.Train, epochs: 3, batchSize: 4, cancellationToken: TestContext.Current.CancellationToken,
            progress: new SyncProgress(p =>
            {
                if (p.Epoch == 2 && p.Batch == 10) SpinWait.SpinUntil(() => Volatile.Read(ref thrown) > 0, 10_000);
            }));
        stop.Cancel();
        predictor.Join();
        output.WriteLine($"During and around Fit: {thrown} predictions refused, {returned} returned");
        Assert.True(thrown > 0, "no prediction was refused while Fit ran");

        var alone = new IrisNet(seed: 9);
        History reference = alone.Fit(IrisData.Train, epochs: 3, batchSize: 4, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(reference.Select(e => e.Loss), history.Select(e => e.Loss));
        Assert.Equal(SafetensorsBits(alone), SafetensorsBits(model));
    }

    /// <summary>Runs <paramref name="work"/> on a new thread and returns its result (or rethrows its exception).</summary>
    private static T OnAnotherThread<T>(Func<T> work)
    {
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = work();
            }
            catch (Exception ex)
            {
                error = ex;
            }
        });
        thread.Start();
        thread.Join();
        if (error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        return result;
    }

    private static int[] SafetensorsBits(IModel model) => Checkpoints.SafetensorsFiles.Bits(model.Parameters);
}
