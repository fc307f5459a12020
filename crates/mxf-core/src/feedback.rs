//! The feedback guard of a cable: detects an application echoing the cable's output back into
//! its input, and mutes the cable until the load stops.
//!
//! # The rule: a sustained message rate far above what a MIDI wire can carry
//! A DIN MIDI wire carries at most 3,125 messages a second (31,250 baud, 10 bits a byte, one
//! byte per realtime message). Applications sending MIDI — sequencers, controllers, clock
//! generators — stay at or near that, and bulk transfers are SysEx, few messages of many bytes.
//! An echo loop through a software cable has no wire to slow it: each message comes straight
//! back, so the rate climbs to what the CPU allows, hundreds of thousands a second. So the
//! guard counts *messages* (not bytes: a 1 MiB SysEx dump is one message) in fixed windows and
//! trips when [`FeedbackConfig::trip_windows`] windows in a row each carry more than
//! [`FeedbackConfig::max_messages_per_window`]; while tripped, every message is refused
//! (counted), and it releases after [`FeedbackConfig::release_windows`] windows in a row at or
//! below the limit (the echo stops once nothing comes out of the cable). A content check
//! (repeating messages) was rejected: echo tools that transpose or re-channel change the
//! content, and remembering messages costs memory on the DISPATCH_LEVEL path.
//!
//! The guard is pure: the caller passes the time and serialises calls (it lives under the
//! cable's lock). No allocation, no platform calls.

/// When the guard trips and releases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeedbackConfig {
    /// Messages a window may carry without counting as "over"; 0 disables the guard.
    pub max_messages_per_window: u32,
    /// Window length (100 ns units, at least 1).
    pub window_100ns: i64,
    /// Consecutive windows over the limit that trip the guard (at least 1).
    pub trip_windows: u8,
    /// Consecutive windows at or below the limit, while tripped, that release it (at least 1).
    pub release_windows: u8,
}

impl FeedbackConfig {
    /// 100 ms windows; over ten times a DIN wire's top rate (31,250 messages a second) for
    /// 300 ms trips; one quiet second releases.
    pub const DEFAULT: Self = Self {
        max_messages_per_window: 3_125,
        window_100ns: 1_000_000,
        trip_windows: 3,
        release_windows: 10,
    };

    /// The registry rate (`FeedbackMaxMessagesPerSecond`) that selects [`Self::DEFAULT`]: its
    /// per-window limit times the ten 100 ms windows of a second.
    pub const DEFAULT_PER_SECOND: u32 = 31_250;

    /// The largest registry rate [`Self::from_registry`] accepts.
    pub const MAX_PER_SECOND: u32 = 10_000_000;

    /// The configuration a registry value `FeedbackMaxMessagesPerSecond` (`REG_DWORD`)
    /// selects: 0 disables the guard; 1 to [`Self::MAX_PER_SECOND`] sets the rate (per 100 ms
    /// window, at least 1); anything larger is refused (`None`: the caller keeps the default
    /// and logs).
    pub const fn from_registry(max_messages_per_second: u32) -> Option<Self> {
        if max_messages_per_second > Self::MAX_PER_SECOND {
            return None;
        }
        let per_window = if max_messages_per_second == 0 {
            0
        } else {
            let w = max_messages_per_second / 10;
            if w == 0 { 1 } else { w }
        };
        Some(Self {
            max_messages_per_window: per_window,
            ..Self::DEFAULT
        })
    }
}

/// What the guard did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeedbackStats {
    /// Times it tripped (the cable muted).
    pub trips: u64,
    /// Times it released.
    pub releases: u64,
    /// Messages refused while tripped.
    pub messages_muted: u64,
    /// Their bytes.
    pub bytes_muted: u64,
}

/// The guard of one cable.
#[derive(Clone, Debug)]
pub struct FeedbackGuard {
    cfg: FeedbackConfig,
    /// Start of the current window; `None` before the first message.
    window_start: Option<i64>,
    /// Messages offered in the current window (refused ones too: they are the echo's load).
    in_window: u32,
    over_run: u8,
    under_run: u8,
    muted: bool,
    stats: FeedbackStats,
}

impl FeedbackGuard {
    /// A released guard.
    pub const fn new(cfg: FeedbackConfig) -> Self {
        Self {
            cfg,
            window_start: None,
            in_window: 0,
            over_run: 0,
            under_run: 0,
            muted: false,
            stats: FeedbackStats {
                trips: 0,
                releases: 0,
                messages_muted: 0,
                bytes_muted: 0,
            },
        }
    }

    /// Whether the cable is muted now.
    pub const fn is_muted(&self) -> bool {
        self.muted
    }

    /// The counters.
    pub const fn stats(&self) -> FeedbackStats {
        self.stats
    }

    /// Offers one message of `bytes` bytes at time `now` (100 ns, non-decreasing): `true` if it
    /// may pass, `false` if the cable is muted (the message is counted as muted).
    pub fn admit(&mut self, now: i64, bytes: usize) -> bool {
        if self.cfg.max_messages_per_window == 0 {
            return true;
        }
        self.roll(now);
        self.in_window = self.in_window.saturating_add(1);
        if !self.muted
            && self.in_window > self.cfg.max_messages_per_window
            && self.over_run.saturating_add(1) >= self.cfg.trip_windows.max(1)
        {
            // This window is over the limit and completes the run: trip now, not at its end.
            self.over_run = self.cfg.trip_windows.max(1);
            self.muted = true;
            self.under_run = 0;
            self.stats.trips += 1;
        }
        if self.muted {
            self.stats.messages_muted += 1;
            self.stats.bytes_muted += bytes as u64;
            false
        } else {
            true
        }
    }

    /// Closes every window that ended by `now` (a window with no message is a quiet one).
    fn roll(&mut self, now: i64) {
        let w = self.cfg.window_100ns.max(1);
        let Some(start) = self.window_start else {
            self.window_start = Some(now);
            return;
        };
        if now < start.saturating_add(w) {
            return;
        }
        let elapsed = now.saturating_sub(start) / w;
        // The window that just ended, then `elapsed - 1` empty ones.
        self.close_window(self.in_window);
        let quiet = elapsed.saturating_sub(1);
        // Enough quiet windows to release and to clear any run are as good as all of them.
        let bound = i64::from(self.cfg.release_windows.max(self.cfg.trip_windows)) + 1;
        for _ in 0..quiet.min(bound) {
            self.close_window(0);
        }
        self.in_window = 0;
        self.window_start = Some(start.saturating_add(elapsed.saturating_mul(w)));
    }

    fn close_window(&mut self, messages: u32) {
        let over = messages > self.cfg.max_messages_per_window;
        if over {
            self.over_run = self.over_run.saturating_add(1);
            self.under_run = 0;
        } else {
            self.over_run = 0;
            self.under_run = self.under_run.saturating_add(1);
        }
        if !self.muted && self.over_run >= self.cfg.trip_windows.max(1) {
            self.muted = true;
            self.under_run = 0;
            self.stats.trips += 1;
        } else if self.muted && self.under_run >= self.cfg.release_windows.max(1) {
            self.muted = false;
            self.over_run = 0;
            self.stats.releases += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 10_000;

    /// Sends `n` messages evenly over `[from, from + span)`; returns how many passed.
    fn burst(g: &mut FeedbackGuard, from: i64, span: i64, n: u32) -> u32 {
        (0..n)
            .filter(|&i| g.admit(from + span * i64::from(i) / i64::from(n), 3))
            .count() as u32
    }

    #[test]
    fn a_full_din_wire_never_trips_it() {
        let mut g = FeedbackGuard::new(FeedbackConfig::DEFAULT);
        // 3,125 messages a second for ten seconds: a saturated wire, ten times under the rule.
        assert_eq!(burst(&mut g, 0, 10_000 * MS, 31_250), 31_250);
        assert_eq!(g.stats(), FeedbackStats::default());
    }

    #[test]
    fn a_short_spike_does_not_trip_it() {
        let mut g = FeedbackGuard::new(FeedbackConfig::DEFAULT);
        // Two windows far over the limit, then quiet: one window short of the rule.
        assert_eq!(burst(&mut g, 0, 200 * MS, 20_000), 20_000);
        assert_eq!(burst(&mut g, 200 * MS, 1_000 * MS, 100), 100);
        assert!(!g.is_muted());
        assert_eq!(g.stats().trips, 0);
    }

    #[test]
    fn an_echo_loop_trips_it_in_the_third_window_and_is_counted_while_muted() {
        let mut g = FeedbackGuard::new(FeedbackConfig::DEFAULT);
        // 100,000 messages a second (10,000 a window), sustained.
        let passed = burst(&mut g, 0, 500 * MS, 50_000);
        assert!(g.is_muted());
        assert_eq!(g.stats().trips, 1);
        // Windows 1 and 2 passed whole, window 3 up to the limit: then muted.
        assert_eq!(passed, 2 * 10_000 + 3_125);
        assert_eq!(u64::from(50_000 - passed), g.stats().messages_muted);
        assert_eq!(g.stats().bytes_muted, 3 * g.stats().messages_muted);
    }

    #[test]
    fn it_releases_after_a_quiet_second_and_trips_again_if_the_echo_resumes() {
        let mut g = FeedbackGuard::new(FeedbackConfig::DEFAULT);
        burst(&mut g, 0, 400 * MS, 40_000);
        assert!(g.is_muted());
        // The echo stops (nothing comes out of the cable): 900 ms later still muted...
        assert!(!g.admit(1_300 * MS, 3));
        // ...a whole quiet second after the last loud window, released.
        assert!(g.admit(2_500 * MS, 3));
        assert_eq!(g.stats().releases, 1);
        burst(&mut g, 3_000 * MS, 400 * MS, 40_000);
        assert!(g.is_muted());
        assert_eq!(g.stats().trips, 2);
    }

    #[test]
    fn zero_disables_it_and_the_registry_value_is_per_second() {
        let off = FeedbackConfig::from_registry(0).unwrap();
        let mut g = FeedbackGuard::new(off);
        assert_eq!(burst(&mut g, 0, 1_000 * MS, 200_000), 200_000);
        assert_eq!(
            FeedbackConfig::from_registry(50_000)
                .unwrap()
                .max_messages_per_window,
            5_000
        );
        assert_eq!(
            FeedbackConfig::from_registry(5)
                .unwrap()
                .max_messages_per_window,
            1
        );
        assert_eq!(FeedbackConfig::from_registry(10_000_001), None);
    }

    #[test]
    fn times_at_the_ends_of_the_range_do_not_overflow() {
        let mut g = FeedbackGuard::new(FeedbackConfig::DEFAULT);
        assert!(g.admit(i64::MAX - 1, 1));
        assert!(g.admit(i64::MAX, 1));
        let mut g = FeedbackGuard::new(FeedbackConfig::DEFAULT);
        assert!(g.admit(i64::MIN, 1));
        assert!(g.admit(i64::MAX, 1));
    }

    #[test]
    fn the_default_rate_selects_the_default_configuration() {
        assert_eq!(
            FeedbackConfig::from_registry(FeedbackConfig::DEFAULT_PER_SECOND),
            Some(FeedbackConfig::DEFAULT)
        );
        assert!(FeedbackConfig::from_registry(FeedbackConfig::MAX_PER_SECOND).is_some());
        assert_eq!(
            FeedbackConfig::from_registry(FeedbackConfig::MAX_PER_SECOND + 1),
            None
        );
    }
}
