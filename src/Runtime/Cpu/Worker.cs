using System.Runtime.CompilerServices;

namespace Compiled.CompilerServices;

/// <summary>
/// One persistent background thread that shares large kernels with the caller, so they use both cores without a
/// task, closure or delegate per call. A job is a function pointer, an argument pointer and a number of chunks; the
/// caller claims chunks from the front (0, 1, 2, ...) and the worker from the back (n − 1, n − 2, ...) of one shared
/// ticket until they meet, then the caller waits for the chunks still running. A worker that is asleep or descheduled
/// (a busy machine) simply claims fewer chunks, so a call is never held up for long by the second core. The worker
/// spins briefly for the next job (kernels in a training step follow each other within microseconds) and then blocks.
/// </summary>
/// <remarks>
/// <para>Claiming from both ends gives the data affinity: successive kernels that cut the same arrays the same way
/// (a dense layer's forward by output units, its weight gradient by the same rows, the optimizer's halves of the
/// arena) run each part on the same core every time, so a core reads what it wrote itself from its own L2 instead of
/// pulling it from the other core's cache (392 KiB: 3.4 µs from its own cache, 11 µs from the other's; see
/// <c>--step-report</c>). Interleaved claims (both from the front) gave each chunk to whichever thread came first.</para>
/// <para>One job at a time: <see cref="TryEnter"/> arbitrates, so a caller that finds the worker taken (another thread
/// is inside a kernel) runs single-threaded instead of waiting. Which thread runs a chunk never changes its result.</para>
/// </remarks>
internal static unsafe class Worker
{
    /// <summary>How long the idle worker polls for the next job before it blocks: 200 µs.</summary>
    private static readonly long IdleTicks = System.Diagnostics.Stopwatch.Frequency / 5000;

    /// <summary>Most chunks in one job: the ticket holds the unclaimed range [front, back) in 24 bits each.</summary>
    public const int MaxChunks = (1 << 24) - 1;

    private const int Bits = 24;
    private const long ChunkMask = (1L << Bits) - 1;

    private static int s_busy;
    private static int s_posted;   // sequence number of the last job posted
    private static long s_ticket;  // (job mod 2¹⁶) << 48 | front << 24 | back: chunks [front, back) are unclaimed
    private static int s_done;     // chunks of the current job finished
    private static int s_sleeping;
    private static delegate*<void*, int, void> s_function;
    private static void* s_argument;
    private static AutoResetEvent? s_wake;
    private static Thread? s_thread;
    private static long s_workerAllocated;

    /// <summary>Bytes the worker thread has allocated since it started, as of its last finished chunk: tests add it to
    /// the caller's own count to prove a training step allocates nothing on either thread.</summary>
    internal static long WorkerAllocatedBytes => Volatile.Read(ref s_workerAllocated);

    /// <summary>True when there is a second core to run on.</summary>
    public static readonly bool Available = Environment.ProcessorCount >= 2;

    /// <summary>Set by tests to force the single-threaded path.</summary>
    internal static bool Disabled;

    /// <summary>Jobs that found the worker asleep and had to wake it (the step report counts them per step).</summary>
    internal static long Wakeups;

    /// <summary>False makes the worker claim from the front like the caller (the order before chunks had a home
    /// thread), so <c>--step-report</c> can show what the affinity is worth. Results are the same either way.</summary>
    internal static bool Affinity = true;

    /// <summary>Claims the worker for one job; false when another thread holds it or there is no second core.</summary>
    public static bool TryEnter() =>
        Available && !Disabled && Interlocked.CompareExchange(ref s_busy, 1, 0) == 0;

    public static void Exit() => Volatile.Write(ref s_busy, 0);

    /// <summary>Runs <paramref name="function"/>(argument, c) for every chunk c &lt; <paramref name="chunks"/>, on this
    /// thread and the worker; returns when all are done. The caller must hold the worker (<see cref="TryEnter"/>).</summary>
    public static void Run(delegate*<void*, int, void> function, void* argument, int chunks)
    {
        if ((uint)chunks > MaxChunks) ThrowChunks(chunks);
        if (s_thread is null) Start();
        int job = s_posted + 1;
        // The previous job's ticket is exhausted (front = back) and stays so until the exchange below, so a worker still
        // inside the previous job's Work claims nothing; once the new ticket is out, a claim on it can only be the new
        // job's (its job bits differ from the old ticket's), and the function, argument and count it reads are this job's.
        s_function = function;
        s_argument = argument;
        Volatile.Write(ref s_done, 0); // every chunk of the previous job finished before it returned
        Interlocked.Exchange(ref s_ticket, Ticket(job, 0, chunks)); // full fence: function, argument and count are visible first
        Interlocked.Exchange(ref s_posted, job); // full fence: the job is visible before we look at s_sleeping
        if (Volatile.Read(ref s_sleeping) != 0)
        {
            Wakeups++;
            s_wake!.Set();
        }

        Work(job, onWorker: false);

        if (Volatile.Read(ref s_done) != chunks)
        {
            SpinWait spin = default;
            while (Volatile.Read(ref s_done) != chunks) spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    private static long Ticket(int job, int front, int back) => ((long)(ushort)job << 48) | ((long)front << Bits) | (uint)back;

    /// <summary>Claims and runs chunks of <paramref name="job"/> until none are left: the caller the lowest unclaimed
    /// chunk, the worker the highest (the lowest too when <see cref="Affinity"/> is off). A claim can only succeed while
    /// the job is in flight, so the function and argument read after it are that job's.</summary>
    private static void Work(int job, bool onWorker)
    {
        bool back = onWorker && Affinity;
        while (true)
        {
            long ticket = Volatile.Read(ref s_ticket);
            int front = (int)((ticket >> Bits) & ChunkMask), end = (int)(ticket & ChunkMask);
            if ((ushort)(ticket >> 48) != (ushort)job || front >= end) return;
            int chunk = back ? end - 1 : front;
            if (Interlocked.CompareExchange(ref s_ticket, back ? ticket - 1 : ticket + (1L << Bits), ticket) != ticket) continue;
            s_function(s_argument, chunk);
            if (onWorker) s_workerAllocated = GC.GetAllocatedBytesForCurrentThread(); // published by the increment
            Interlocked.Increment(ref s_done);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowChunks(int chunks) =>
        throw new ArgumentOutOfRangeException(nameof(chunks), chunks, $"A job has 0 to {MaxChunks} chunks.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Start()
    {
        s_wake = new AutoResetEvent(false);
        var thread = new Thread(Loop, maxStackSize: 256 * 1024) { IsBackground = true, Name = "Compiled worker" };
        thread.Start();
        s_thread = thread;
    }

    private static void Loop()
    {
        PackBuffer.Get(); // now, not inside some later job: once started, the worker never allocates
        s_workerAllocated = GC.GetAllocatedBytesForCurrentThread();
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
            Work(seen, onWorker: true);
        }
    }
}
