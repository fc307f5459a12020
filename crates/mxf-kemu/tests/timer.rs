//! Timers: firing order, IRQL and clock in callbacks, re-arming, cancel, drop, unload.

use mxf_core::platform::{DISPATCH_LEVEL, PASSIVE_LEVEL, Platform, Timer, bugcheck};
use mxf_kemu::{EMU_START_100NS, Emu, EmuConfig, EmuTimer, expect_bugcheck};
use std::ffi::c_void;
use std::sync::Mutex;

/// What a test's callbacks see: (timer name, IRQL, clock) per firing.
struct Probe {
    emu: Emu,
    fired: Mutex<Vec<(u32, u8, i64)>>,
    /// Timer to re-arm from callback `rearm.0`, `rearm.1` later, once.
    rearm: Mutex<Option<(u32, i64)>>,
    timers: Mutex<Vec<EmuTimer>>,
}

struct Ctx {
    probe: *const Probe,
    name: u32,
}

unsafe fn record(ctx: *const c_void) {
    // SAFETY: every test keeps the Ctx and Probe alive until its timers are dropped.
    let ctx = unsafe { &*ctx.cast::<Ctx>() };
    // SAFETY: as above.
    let probe = unsafe { &*ctx.probe };
    let emu = &probe.emu;
    probe
        .fired
        .lock()
        .unwrap()
        .push((ctx.name, emu.current_irql(), emu.now_100ns()));
    let rearm = probe.rearm.lock().unwrap().take_if(|(n, _)| *n == ctx.name);
    if let Some((name, dt)) = rearm {
        probe.timers.lock().unwrap()[name as usize].set(emu.now_100ns() + dt);
    }
}

fn probe(emu: &Emu) -> Box<Probe> {
    Box::new(Probe {
        emu: emu.clone(),
        fired: Mutex::new(Vec::new()),
        rearm: Mutex::new(None),
        timers: Mutex::new(Vec::new()),
    })
}

/// `n` timers named 0..n whose contexts point at `probe` (the returned vector is never
/// grown, so the contexts stay where the timers point).
fn timers(emu: &Emu, probe: &Probe, n: u32) -> Vec<Ctx> {
    let ctxs: Vec<_> = (0..n).map(|name| Ctx { probe, name }).collect();
    let mut ts = probe.timers.lock().unwrap();
    for c in &ctxs {
        // SAFETY: the contexts and the probe outlive the timers (tests drop timers first).
        ts.push(unsafe { emu.new_timer(record, std::ptr::from_ref(c).cast()) }.unwrap());
    }
    ctxs
}

#[test]
fn clock_starts_nonzero_and_advances() {
    let emu = Emu::new(EmuConfig::default());
    assert_eq!(emu.now_100ns(), EMU_START_100NS);
    assert_ne!(EMU_START_100NS, 0);
    emu.advance_time(1234);
    assert_eq!(Platform::now_100ns(&emu), EMU_START_100NS + 1234);
}

#[test]
fn timers_fire_in_due_order_at_dispatch_with_the_clock_at_due_time() {
    let emu = Emu::new(EmuConfig::default());
    let p = probe(&emu);
    let _ctx = timers(&emu, &p, 4);
    let t0 = emu.now_100ns();
    {
        let ts = p.timers.lock().unwrap();
        ts[0].set(t0 + 300);
        ts[1].set(t0 + 100);
        ts[2].set(t0 + 200);
        ts[3].set(t0 + 100); // same due time as 1, armed later: fires after it
    }
    assert_eq!(emu.next_timer_due(), Some(t0 + 100));
    emu.advance_time(250);
    assert_eq!(
        *p.fired.lock().unwrap(),
        vec![
            (1, DISPATCH_LEVEL, t0 + 100),
            (3, DISPATCH_LEVEL, t0 + 100),
            (2, DISPATCH_LEVEL, t0 + 200)
        ]
    );
    assert_eq!(emu.now_100ns(), t0 + 250);
    assert_eq!(emu.current_irql(), PASSIVE_LEVEL);
    assert_eq!(emu.next_timer_due(), Some(t0 + 300));
    emu.advance_time(50);
    assert_eq!(
        p.fired.lock().unwrap().last(),
        Some(&(0, DISPATCH_LEVEL, t0 + 300))
    );
    assert_eq!(emu.next_timer_due(), None);
    p.timers.lock().unwrap().clear();
    assert_eq!(emu.unload().unwrap().timer_fires, 4);
}

#[test]
fn one_shot_fires_once_and_rearming_from_the_callback_fires_again_if_due() {
    let emu = Emu::new(EmuConfig::default());
    let p = probe(&emu);
    let _ctx = timers(&emu, &p, 1);
    let t0 = emu.now_100ns();
    *p.rearm.lock().unwrap() = Some((0, 40));
    p.timers.lock().unwrap()[0].set(t0 + 10);
    emu.advance_time(100);
    let fired: Vec<_> = p.fired.lock().unwrap().iter().map(|f| f.2 - t0).collect();
    assert_eq!(fired, vec![10, 50]);
    emu.advance_time(1000);
    assert_eq!(p.fired.lock().unwrap().len(), 2);
}

#[test]
fn past_due_fires_on_the_next_advance_at_current_time() {
    let emu = Emu::new(EmuConfig::default());
    let p = probe(&emu);
    let _ctx = timers(&emu, &p, 1);
    emu.advance_time(500);
    let now = emu.now_100ns();
    p.timers.lock().unwrap()[0].set(now - 100);
    assert!(
        p.fired.lock().unwrap().is_empty(),
        "set never fires synchronously"
    );
    emu.advance_time(0);
    assert_eq!(*p.fired.lock().unwrap(), vec![(0, DISPATCH_LEVEL, now)]);
}

#[test]
fn rearm_replaces_and_cancel_disarms() {
    let emu = Emu::new(EmuConfig::default());
    let p = probe(&emu);
    let _ctx = timers(&emu, &p, 2);
    let t0 = emu.now_100ns();
    {
        let ts = p.timers.lock().unwrap();
        ts[0].set(t0 + 10);
        ts[0].set(t0 + 70);
        ts[1].set(t0 + 20);
        assert!(ts[1].cancel());
        assert!(!ts[1].cancel());
        assert_eq!(ts[0].due(), Some(t0 + 70));
    }
    emu.advance_time(100);
    assert_eq!(*p.fired.lock().unwrap(), vec![(0, DISPATCH_LEVEL, t0 + 70)]);
}

#[test]
fn dropping_a_timer_cancels_it() {
    let emu = Emu::new(EmuConfig::default());
    let p = probe(&emu);
    let _ctx = timers(&emu, &p, 1);
    let t = p.timers.lock().unwrap().pop().unwrap();
    t.set(emu.now_100ns() + 5);
    drop(t);
    assert_eq!(emu.next_timer_due(), None);
    emu.advance_time(100);
    assert!(p.fired.lock().unwrap().is_empty());
    emu.unload().unwrap();
}

#[test]
fn live_timer_at_unload_bugchecks_0xce() {
    let emu = Emu::new(EmuConfig::default());
    let p = probe(&emu);
    let _ctx = timers(&emu, &p, 1);
    p.timers.lock().unwrap()[0].set(emu.now_100ns() + 5);
    let bc = emu.unload().unwrap_err();
    assert_eq!(
        bc.code,
        bugcheck::DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS
    );
    assert!(
        bc.message.contains("1 timer(s)") && bc.message.contains("1 still armed"),
        "{bc}"
    );
    p.timers.lock().unwrap().clear();
    emu.unload().unwrap();
}

unsafe fn lowers_irql(ctx: *const c_void) {
    // SAFETY: the test passes a live Emu.
    let emu = unsafe { &*ctx.cast::<Emu>() };
    emu.lower_irql(PASSIVE_LEVEL);
}

#[test]
fn callback_returning_at_wrong_irql_bugchecks() {
    let emu = Emu::new(EmuConfig::default());
    let ctx = Box::new(emu.clone());
    // SAFETY: `ctx` outlives the timer.
    let t = unsafe { emu.new_timer(lowers_irql, std::ptr::from_ref::<Emu>(&ctx).cast()) }.unwrap();
    t.set(0);
    let bc = expect_bugcheck(|| emu.advance_time(1));
    assert_eq!(bc.code, 0xC8);
    drop(t);
}

#[test]
fn advance_time_works_at_dispatch() {
    let emu = Emu::new(EmuConfig::default());
    let p = probe(&emu);
    let _ctx = timers(&emu, &p, 1);
    p.timers.lock().unwrap()[0].set(emu.now_100ns() + 1);
    emu.at_irql(DISPATCH_LEVEL, || emu.advance_time(2));
    assert_eq!(p.fired.lock().unwrap().len(), 1);
    assert_eq!(emu.current_irql(), PASSIVE_LEVEL);
}
