using System.Runtime.CompilerServices;

namespace Compiled.Cpu;

/// <summary>
/// One persistent background thread that runs the second half of a two-way split kernel, so large products use
/// both cores without a task, closure or delegate per call. The caller publishes a function pointer and an
/// argument pointer, runs part 0 itself, then either finds part 1 taken by the worker and spins until it is done,
/// or (the worker being late) claims part 1 and runs it too. The worker spins briefly
/// for the next job (kernels in a training step follow each other within microseconds) and then blocks.
/// </summary>
/// <remarks>
/// Not re-entrant: one job at a time. <see cref="TryEnter"/> arbitrates, so a caller that finds the worker taken
/// (another thread is inside a kernel) runs single-threaded instead of waiting.
/// </remarks>
internal static unsafe class Worker
{
    /// <summary>How long the idle worker polls for the next job before it blocks: 200 µs.</summary>
    private static readonly long IdleTicks = System.Diagnostics.Stopwatch.Frequency / 5000;

    private static int s_busy;
    private static int s_posted;   // sequence number of the last job posted
    private static int s_claimed;  // sequence number of the last job whose part 1 someone took
    private static int s_finished; // sequence number of the last job the worker finished
    private static int s_sleeping;
    private static delegate*<void*, int, void> s_function;
    private static void* s_argument;
    private static AutoResetEvent? s_wake;
    private static Thread? s_thread;

    /// <summary>True when there is a second core to run on.</summary>
    public static readonly bool Available = Environment.ProcessorCount >= 2;

    /// <summary>Set by tests to force the single-threaded path.</summary>
    internal static bool Disabled;

    /// <summary>Claims the worker for one job; false when another thread holds it or there is no second core.</summary>
    public static bool TryEnter() =>
        Available && !Disabled && Interlocked.CompareExchange(ref s_busy, 1, 0) == 0;

    public static void Exit() => Volatile.Write(ref s_busy, 0);

    /// <summary>Runs <paramref name="function"/>(argument, 0) here and (argument, 1) on the worker; returns when both are done.
    /// The caller must hold the worker (<see cref="TryEnter"/>).</summary>
    public static void Run(delegate*<void*, int, void> function, void* argument)
    {
        if (s_thread is null) Start();
        s_function = function;
        s_argument = argument;
        int job = s_posted + 1;
        Interlocked.Exchange(ref s_posted, job); // full fence: the job is visible before we look at s_sleeping
        if (Volatile.Read(ref s_sleeping) != 0) s_wake!.Set();

        function(argument, 0);

        // If the worker has not picked part 1 up yet (asleep, or descheduled on a busy machine), do it here:
        // two cores never make a call slower than one.
        if (Interlocked.CompareExchange(ref s_claimed, job, job - 1) == job - 1)
        {
            function(argument, 1);
            return;
        }
        if (Volatile.Read(ref s_finished) != job)
        {
            SpinWait spin = default;
            while (Volatile.Read(ref s_finished) != job) spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Start()
    {
        s_wake = new AutoResetEvent(false);
        var thread = new Thread(Loop, maxStackSize: 256 * 1024) { IsBackground = true, Name = "Compiled.Cpu worker" };
        thread.Start();
        s_thread = thread;
    }

    private static void Loop()
    {
        int seen = Volatile.Read(ref s_posted);
        while (true)
        {
            long idleSince = System.Diagnostics.Stopwatch.GetTimestamp();
            while (Volatile.Read(ref s_posted) == seen)
            {
                if (System.Diagnostics.Stopwatch.GetTimestamp() - idleSince < IdleTicks)
                {
                    Thread.SpinWait(4);
                    continue;
                }
                Interlocked.Exchange(ref s_sleeping, 1); // full fence: either Run sees us asleep or we see its job
                if (Volatile.Read(ref s_posted) == seen) s_wake!.WaitOne();
                Volatile.Write(ref s_sleeping, 0);
                idleSince = System.Diagnostics.Stopwatch.GetTimestamp();
            }
            seen = Volatile.Read(ref s_posted);
            // Claim part 1 of the newest job; the caller may have run it already. Only one job is ever in flight,
            // so a successful claim means s_function and s_argument are that job's and stay valid until we finish.
            if (Interlocked.CompareExchange(ref s_claimed, seen, seen - 1) == seen - 1)
            {
                s_function(s_argument, 1);
                Volatile.Write(ref s_finished, seen);
            }
        }
    }
}
