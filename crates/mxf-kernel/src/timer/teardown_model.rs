//! [`KernelTimer`]'s drop against a model of the kernel's timer and DPC queues, with a DPC whose
//! callback re-arms the timer from another processor.
//!
//! The model runs the DPC on its own thread and stops it inside `KeSetTimer` or
//! `KeInsertQueueDpc` (after the `dying` check, before the timer or the DPC is queued again:
//! the widest race there is). The callback re-arms for later (`KeSetTimer`) or for now
//! (`KeInsertQueueDpc`); both are explored. At
//! the start of the drop and at each kernel call the drop makes, an adversary may first let the
//! timer expire (queueing the DPC), start the queued DPC, or let the stopped DPC re-arm and
//! return. Every sequence of such choices is tried. When the block is freed, nothing may still
//! reference it: no queued timer, no queued or running DPC.
extern crate std;

use super::*;
use std::boxed::Box;
use std::format;
use std::string::String;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;
use std::vec::Vec;

/// What the adversary does at one point of the drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Move {
    Nothing,
    /// The armed timer expires: its DPC is queued.
    Expire,
    /// The queued DPC starts on the other processor (and stops in `KeSetTimer` if its callback
    /// re-arms).
    StartDpc,
    /// The stopped DPC completes its `KeSetTimer` and returns.
    ResumeDpc,
}

const MOVES: [Move; 4] = [Move::Nothing, Move::Expire, Move::StartDpc, Move::ResumeDpc];

#[derive(Default)]
struct State {
    block: usize,
    freed: bool,
    routine: Option<KdeferredRoutine>,
    dpc: usize,
    armed: bool,
    queued: bool,
    running: bool,
    /// The running DPC is stopped inside `KeSetTimer`, waiting for `ResumeDpc`.
    stopped: bool,
    /// Adversary moves still to make, one list entry per drop point.
    script: Vec<Move>,
    /// The drop thread's kernel calls seen so far (the drop points reached).
    points: usize,
    irql: u8,
    violations: Vec<String>,
    dpc_thread: Option<JoinHandle<()>>,
}

static MODEL: Mutex<Option<State>> = Mutex::new(None);
static CHANGED: Condvar = Condvar::new();
/// Serialises the tests of this module: the model is one global kernel.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

std::thread_local! {
    static ON_DPC_THREAD: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

fn model() -> MutexGuard<'static, Option<State>> {
    MODEL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits (bounded) until `done` holds; a model deadlock fails the test instead of hanging it.
fn wait_until(
    mut g: MutexGuard<'static, Option<State>>,
    done: impl Fn(&State) -> bool,
) -> MutexGuard<'static, Option<State>> {
    let mut waited = Duration::ZERO;
    let step = Duration::from_millis(50);
    while !done(g.as_ref().expect("model installed")) {
        assert!(waited < Duration::from_secs(10), "model deadlock");
        g = CHANGED
            .wait_timeout(g, step)
            .unwrap_or_else(|e| e.into_inner())
            .0;
        waited += step;
    }
    g
}

fn violation(s: &mut State, what: String) {
    s.violations.push(what);
}

/// Starts the queued DPC on its own thread; returns once it has returned or stopped.
fn start_dpc(mut g: MutexGuard<'static, Option<State>>) -> MutexGuard<'static, Option<State>> {
    let s = g.as_mut().expect("model installed");
    if !s.queued || s.running {
        return g;
    }
    s.queued = false;
    s.running = true;
    if s.freed {
        violation(s, "a DPC of the freed block ran".into());
    }
    let routine = s.routine.expect("initialised");
    let (dpc, block) = (s.dpc, s.block);
    let previous = s.dpc_thread.take();
    let handle = thread::spawn(move || {
        ON_DPC_THREAD.set(true);
        // SAFETY: the model keeps the block's memory allocated until the test ends, so even a
        // DPC the drop failed to wait for reads live memory (and is reported above).
        unsafe {
            routine(
                dpc as *mut Kdpc,
                block as *mut c_void,
                core::ptr::null_mut(),
                core::ptr::null_mut(),
            )
        };
        let mut g = model();
        g.as_mut().expect("model installed").running = false;
        drop(g);
        CHANGED.notify_all();
    });
    g.as_mut().expect("model installed").dpc_thread = Some(handle);
    drop(g);
    if let Some(h) = previous {
        h.join().expect("DPC thread");
    }
    wait_until(model(), |s| s.stopped || !s.running)
}

fn resume_dpc(mut g: MutexGuard<'static, Option<State>>) -> MutexGuard<'static, Option<State>> {
    let s = g.as_mut().expect("model installed");
    if !s.stopped {
        return g;
    }
    s.stopped = false;
    drop(g);
    CHANGED.notify_all();
    wait_until(model(), |s| !s.running)
}

fn play(g: MutexGuard<'static, Option<State>>, m: Move) -> MutexGuard<'static, Option<State>> {
    match m {
        Move::Nothing => g,
        Move::Expire => {
            let mut g = g;
            let s = g.as_mut().expect("model installed");
            if s.armed {
                s.armed = false;
                s.queued = true;
            }
            g
        }
        Move::StartDpc => start_dpc(g),
        Move::ResumeDpc => resume_dpc(g),
    }
}

/// A point of the drop (one of its kernel calls, made on the drop's thread): the adversary's
/// next scripted move happens first.
fn drop_point() {
    if ON_DPC_THREAD.get() {
        return;
    }
    let mut g = model();
    let s = g.as_mut().expect("model installed");
    s.points += 1;
    let m = if s.script.is_empty() {
        Move::Nothing
    } else {
        s.script.remove(0)
    };
    drop(play(g, m));
}

/// On the DPC's thread, stops until the adversary (or a flush waiting for this DPC) lets it go
/// on; returns the model locked.
fn stop_if_on_dpc_thread() -> MutexGuard<'static, Option<State>> {
    let mut g = model();
    if ON_DPC_THREAD.get() {
        g.as_mut().expect("model installed").stopped = true;
        CHANGED.notify_all();
        g = wait_until(g, |s| !s.stopped);
    }
    g
}

struct Model;

// SAFETY: a model for tests; it checks the callers' obligations instead of relying on them.
unsafe impl TimerCalls for Model {
    fn alloc_block(size: usize) -> *mut c_void {
        let layout = std::alloc::Layout::from_size_align(size, 16).expect("layout");
        // SAFETY: `size` is non-zero (a Block).
        let p = unsafe { std::alloc::alloc_zeroed(layout) };
        let mut g = model();
        let s = g.as_mut().expect("model installed");
        s.block = p as usize;
        p.cast()
    }

    unsafe fn free_block(block: *mut c_void) {
        drop_point();
        let mut g = model();
        let s = g.as_mut().expect("model installed");
        if block as usize != s.block || s.freed {
            violation(s, "freed a block that is not the live timer block".into());
        }
        for (held, what) in [
            (s.armed, "timer still queued"),
            (s.queued, "DPC still queued"),
            (s.running, "DPC still running"),
        ] {
            if held {
                violation(s, format!("block freed while {what}"));
            }
        }
        // The memory itself is released by the test once every thread is done with it.
        s.freed = true;
    }

    unsafe fn initialize(
        _timer: *mut Ktimer,
        dpc: *mut Kdpc,
        routine: KdeferredRoutine,
        context: *mut c_void,
    ) {
        let mut g = model();
        let s = g.as_mut().expect("model installed");
        if context as usize != s.block {
            violation(s, "DPC context is not the block".into());
        }
        s.routine = Some(routine);
        s.dpc = dpc as usize;
    }

    unsafe fn set(_timer: *mut Ktimer, _due: i64, _dpc: *mut Kdpc) {
        let mut g = stop_if_on_dpc_thread();
        let s = g.as_mut().expect("model installed");
        if s.freed {
            violation(s, "KeSetTimer on the freed block".into());
        }
        s.armed = true;
    }

    unsafe fn insert_dpc(_dpc: *mut Kdpc) {
        let mut g = stop_if_on_dpc_thread();
        let s = g.as_mut().expect("model installed");
        if s.freed {
            violation(s, "KeInsertQueueDpc on the freed block".into());
        }
        s.queued = true;
    }

    unsafe fn cancel(_timer: *mut Ktimer) -> bool {
        // The DPC's own cancel (before re-arming now) is not a point of the drop.
        drop_point();
        let mut g = model();
        let s = g.as_mut().expect("model installed");
        if s.freed {
            violation(s, "KeCancelTimer on the freed block".into());
        }
        core::mem::replace(&mut s.armed, false)
    }

    fn flush_queued_dpcs() {
        drop_point();
        // Every DPC queued or running when the flush began has returned when it ends.
        let mut g = model();
        let s = g.as_mut().expect("model installed");
        if s.irql != mxf_core::platform::PASSIVE_LEVEL {
            violation(s, "KeFlushQueuedDpcs above PASSIVE_LEVEL".into());
        }
        let mut queued = s.queued;
        loop {
            let s = g.as_ref().expect("model installed");
            if s.stopped {
                g = resume_dpc(g);
            } else if queued && s.queued {
                queued = false;
                g = start_dpc(g);
            } else {
                break;
            }
        }
    }

    fn current_irql() -> u8 {
        let g = model();
        g.as_ref().expect("model installed").irql
    }

    fn interrupt_time() -> i64 {
        0
    }

    fn bug_check(code: u32, params: [usize; 4]) -> ! {
        std::panic::panic_any((code, params))
    }
}

/// The test's timer context: the callback re-arms the timer it belongs to.
struct Rearm {
    /// A bitwise copy of the timer under test that is never dropped (the callback's handle).
    timer: core::mem::ManuallyDrop<KernelTimer<Model>>,
    /// The due time it re-arms for: 1 is later (the model's clock reads 0), 0 is now.
    due: i64,
}

/// # Safety
/// `context` is a live [`Rearm`].
unsafe fn rearm(context: *const c_void) {
    // SAFETY: the test keeps the Rearm alive until every DPC thread has been joined.
    let r = unsafe { &*context.cast::<Rearm>() };
    r.timer.set(r.due);
}

/// Runs one drop of a timer that re-arms for `due` under `script` and returns what the model
/// saw.
fn run(
    script: &[Move],
    irql: u8,
    due: i64,
    teardown: fn(KernelTimer<Model>),
) -> (Vec<String>, usize) {
    *model() = Some(State {
        irql: mxf_core::platform::PASSIVE_LEVEL,
        ..State::default()
    });
    let mut ctx = Box::new(Rearm {
        // Placeholder storage, overwritten below before any callback can run.
        timer: core::mem::ManuallyDrop::new(KernelTimer {
            block: NonNull::dangling(),
            _calls: PhantomData,
        }),
        due,
    });
    let ctx_ptr: *mut Rearm = &mut *ctx;
    // SAFETY: `ctx` outlives the timer and every DPC thread (joined below); `rearm` is sound on
    // any thread.
    let timer = unsafe { KernelTimer::<Model>::new(rearm, ctx_ptr.cast_const().cast()) }
        .expect("model allocation");
    // SAFETY: a bitwise copy of the handle (a pointer to the block); the copy is never dropped,
    // so the block is still freed once, by `teardown`.
    let copy = core::mem::ManuallyDrop::new(unsafe { core::ptr::read(&timer) });
    // SAFETY: `ctx_ptr` points to the live boxed `ctx`; no DPC runs yet (the timer is not
    // set), so nothing else reads `timer` during the write.
    unsafe { (*ctx_ptr).timer = copy };
    timer.set(due);
    {
        let mut g = model();
        let s = g.as_mut().expect("model installed");
        s.script = script.to_vec();
        s.irql = irql;
    }
    // The adversary's first two moves happen before the drop starts (enough to expire the timer
    // and start its DPC, which then stops inside its re-arming KeSetTimer).
    drop_point();
    drop_point();
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| teardown(timer)));
    // Let any DPC still stopped finish so that its thread can be joined.
    let mut g = model();
    loop {
        let s = g.as_ref().expect("model installed");
        if s.stopped {
            g = resume_dpc(g);
        } else {
            break;
        }
    }
    let mut s = g.take().expect("model installed");
    drop(g);
    if let Some(h) = s.dpc_thread.take() {
        h.join().expect("DPC thread");
    }
    if let Err(payload) = dropped {
        let (code, params) = *payload
            .downcast::<(u32, [usize; 4])>()
            .expect("only the model's bug check panics");
        s.violations
            .push(format!("bug check {code:#x} {params:x?}"));
    }
    let layout = std::alloc::Layout::from_size_align(core::mem::size_of::<Block>(), 16).unwrap();
    // SAFETY: allocated by `Model::alloc_block` with this layout; every thread is done with it.
    unsafe { std::alloc::dealloc(s.block as *mut u8, layout) };
    (s.violations, s.points)
}

/// Every script of `len` moves.
fn scripts(len: usize) -> Vec<Vec<Move>> {
    let mut all = std::vec![Vec::new()];
    for _ in 0..len {
        all = all
            .into_iter()
            .flat_map(|s| {
                MOVES.iter().map(move |m| {
                    let mut s = s.clone();
                    s.push(*m);
                    s
                })
            })
            .collect();
    }
    all
}

/// The first script (and re-arming due time) under which `teardown` leaves the kernel a
/// reference to the freed block.
fn first_failure(teardown: fn(KernelTimer<Model>)) -> Option<(Vec<Move>, i64, Vec<String>)> {
    // Seven points: two before the drop, and its five kernel calls (cancel, flush, cancel,
    // flush, free) — a longer script changes nothing for the real drop.
    let all = scripts(7);
    [1, 0].into_iter().find_map(|due| {
        all.iter().find_map(|script| {
            let (violations, _) = run(script, mxf_core::platform::PASSIVE_LEVEL, due, teardown);
            (!violations.is_empty()).then(|| (script.clone(), due, violations))
        })
    })
}

#[test]
fn no_interleaving_leaves_the_kernel_a_reference_to_the_freed_timer() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (violations, points) = run(&[], mxf_core::platform::PASSIVE_LEVEL, 1, drop);
    assert_eq!(violations, Vec::<String>::new());
    assert_eq!(
        points, 7,
        "the drop makes five kernel calls after the two first points"
    );
    assert_eq!(first_failure(drop), None);
}

/// One cancel and one flush: what a straightforward drop would do.
fn cancel_flush_once(timer: KernelTimer<Model>) {
    let timer = core::mem::ManuallyDrop::new(timer);
    let b = timer.block();
    b.dying.store(true, Ordering::Release);
    // SAFETY: the block is live until the free below.
    unsafe { Model::cancel(b.timer.get()) };
    Model::flush_queued_dpcs();
    // SAFETY: the naive drop's claim, which the model refutes.
    unsafe { Model::free_block(timer.block.as_ptr().cast()) };
}

#[test]
fn the_model_finds_the_race_a_single_cancel_and_flush_leaves() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (script, due, violations) =
        first_failure(cancel_flush_once).expect("a single cancel + flush must lose the race");
    // The DPC was inside KeSetTimer when the drop began; the flush let it re-arm.
    assert!(script.contains(&Move::StartDpc), "{script:?}");
    assert_eq!(due, 1, "found with the KeSetTimer re-arm first");
    assert_eq!(
        violations,
        ["block freed while timer still queued"],
        "{script:?}"
    );
}

#[test]
fn a_callback_that_is_stopped_inside_set_when_the_drop_begins_cannot_outlive_it() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // Expire, start the DPC (it stops re-arming), then nothing: the drop's own calls must
    // release it and clean up after it.
    let script = [Move::Expire, Move::StartDpc];
    let mut resumed_late = script.to_vec();
    resumed_late.extend([Move::Nothing, Move::Nothing, Move::ResumeDpc]);
    for due in [1, 0] {
        for s in [&script[..], &resumed_late[..]] {
            let (violations, _) = run(s, mxf_core::platform::PASSIVE_LEVEL, due, drop);
            assert_eq!(violations, Vec::<String>::new(), "{s:?} due {due}");
        }
    }
}

#[test]
fn dropping_above_passive_level_bug_checks_before_touching_the_timer() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (violations, points) = run(&[], mxf_core::platform::DISPATCH_LEVEL, 1, drop);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(
        violations[0].starts_with("bug check 0x4d584643 [e001, 2, "),
        "{violations:?}"
    );
    // Only the points before the drop: no cancel, flush or free was attempted.
    assert_eq!(points, 2);
}
