using System.Runtime.CompilerServices;

namespace Compiled.CompilerServices;

/// <summary>
/// One persistent background thread that shares large kernels with the caller, so they use both cores without a
/// task, closure or delegate per call. A job is a function pointer, an argument pointer and a number of chunks; the
/// caller and the worker claim chunks one at a time from a shared ticket until none are left, then the caller waits
/// for the chunks still running. A worker that is asleep or descheduled (a busy machine) simply claims fewer chunks,
/// so a call is never held up for long by the second core. The worker spins briefly for the next job (kernels in a
/// training step follow each other within microseconds) and then blocks.
/// </summary>
/// <remarks>
/// One job at a time: <see cref="TryEnter"/> arbitrates, so a caller that finds the worker taken (another thread is
/// inside a kernel) runs single-threaded instead of waiting. Which thread runs a chunk never changes its result.
/// </remarks>
internal static unsafe class Worker
{
    /// <summary>How long the idle worker polls for the next job before it blocks: 200 µs.</summary>
    private static readonly long IdleTicks = System.Diagnostics.Stopwatch.Frequency / 5000;

    /// <summary>The chunk part of a ticket whose job is being set up: beyond any chunk count, so nothing is claimed.</summary>
    private const long Closed = int.MaxValue;

    private static int s_busy;
    private static int s_posted;   // sequence number of the last job posted
    private static long s_ticket;  // (job << 32) | next unclaimed chunk
    private static int s_chunks;
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

    /// <summary>Claims the worker for one job; false when another thread holds it or there is no second core.</summary>
    public static bool TryEnter() =>
        Available && !Disabled && Interlocked.CompareExchange(ref s_busy, 1, 0) == 0;

    public static void Exit() => Volatile.Write(ref s_busy, 0);

    /// <summary>Runs <paramref name="function"/>(argument, c) for every chunk c &lt; <paramref name="chunks"/>, on this
    /// thread and the worker; returns when all are done. The caller must hold the worker (<see cref="TryEnter"/>).</summary>
    public static void Run(delegate*<void*, int, void> function, void* argument, int chunks)
    {
        if (s_thread is null) Start();
        int job = s_posted + 1;
        // Close the ticket before changing the job: a worker still inside the previous job's Work may have read its
        // exhausted ticket and be about to compare it with s_chunks. Were s_chunks already the new (larger) count, its
        // compare-and-swap on the old ticket would succeed and run a chunk of the new job under the old ticket, and the
        // extra increment of s_done would leave this call spinning forever. A closed ticket has a new job number (so the
        // stale CAS fails) and no chunk to claim.
        Interlocked.Exchange(ref s_ticket, ((long)job << 32) | Closed);
        s_function = function;
        s_argument = argument;
        s_chunks = chunks;
        Volatile.Write(ref s_done, 0); // every chunk of the previous job finished before it returned
        Interlocked.Exchange(ref s_ticket, (long)job << 32); // full fence: function, argument and count are visible first
        Interlocked.Exchange(ref s_posted, job); // full fence: the job is visible before we look at s_sleeping
        if (Volatile.Read(ref s_sleeping) != 0) s_wake!.Set();

        Work(job, onWorker: false);

        if (Volatile.Read(ref s_done) != chunks)
        {
            SpinWait spin = default;
            while (Volatile.Read(ref s_done) != chunks) spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Claims and runs chunks of <paramref name="job"/> until none are left. A claim can only succeed while
    /// the job is in flight, so the function, argument and chunk count read after it are that job's.</summary>
    private static void Work(int job, bool onWorker)
    {
        while (true)
        {
            long ticket = Volatile.Read(ref s_ticket);
            if ((int)(ticket >> 32) != job || (int)ticket >= Volatile.Read(ref s_chunks)) return;
            if (Interlocked.CompareExchange(ref s_ticket, ticket + 1, ticket) != ticket) continue;
            s_function(s_argument, (int)ticket);
            if (onWorker) s_workerAllocated = GC.GetAllocatedBytesForCurrentThread(); // published by the increment
            Interlocked.Increment(ref s_done);
        }
    }

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
