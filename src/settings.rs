//! The driver's registry settings (`Services\mxfloop\Parameters`), decoded. Pure, so that the
//! host tests cover every value; the kernel glue reads the raw `REG_DWORD`s and the raw bytes
//! of the `REG_MULTI_SZ`. A bad value never fails the start: it falls back to the default and
//! the problem is returned for the caller to log.

use crate::names::{DEFAULT_NAME_PREFIX, MAX_CABLES, MAX_NAME_UNITS, default_name_units};
use core::fmt;
use mxf_abi::NtStatus;
use mxf_core::capture::CaptureMode;
use mxf_core::feedback::FeedbackConfig;

/// Why a setting fell back to its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingProblem {
    /// The value exists but could not be read (e.g. not of the value's type).
    Unreadable(NtStatus),
    /// The value is outside `min..=max`.
    OutOfRange {
        /// The value read.
        value: u32,
        /// The smallest value accepted.
        min: u32,
        /// The largest value accepted.
        max: u32,
    },
}

impl fmt::Display for SettingProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable(status) => write!(f, "unreadable ({status:#010x}); using the default"),
            Self::OutOfRange { value, min, max } => {
                write!(f, "{value} is not in {min}..={max}; using the default")
            }
        }
    }
}

/// A `REG_DWORD` decoded with `decode` (`None`: out of `min..=max`), or `default` with the
/// reason when the read failed or the value is refused.
fn dword_setting<T>(
    read: Result<u32, NtStatus>,
    default: T,
    (min, max): (u32, u32),
    decode: impl FnOnce(u32) -> Option<T>,
) -> (T, Option<SettingProblem>) {
    match read {
        Ok(value) => match decode(value) {
            Some(v) => (v, None),
            None => (
                default,
                Some(SettingProblem::OutOfRange { value, min, max }),
            ),
        },
        Err(status) => (default, Some(SettingProblem::Unreadable(status))),
    }
}

/// The capture mode a read of `CaptureMode` selects (an absent value reads as the default, 0),
/// and why it fell back to [`CaptureMode::Whole`] if it did. Never fails the start.
pub fn capture_mode_setting(read: Result<u32, NtStatus>) -> (CaptureMode, Option<SettingProblem>) {
    dword_setting(read, CaptureMode::Whole, (0, 1), CaptureMode::from_registry)
}

/// The number of cables a read of `CableCount` selects: 1 to [`MAX_CABLES`] (an absent value
/// reads as the default, 1), and why it fell back to 1 if it did.
pub fn cable_count_setting(read: Result<u32, NtStatus>) -> (usize, Option<SettingProblem>) {
    dword_setting(read, 1, (1, MAX_CABLES as u32), |v| {
        let n = usize::try_from(v).ok()?;
        (1..=MAX_CABLES).contains(&n).then_some(n)
    })
}

/// `FeedbackMaxMessagesPerSecond` when the value is absent: the rate of
/// [`FeedbackConfig::DEFAULT`].
pub const FEEDBACK_DEFAULT_PER_SECOND: u32 = FeedbackConfig::DEFAULT_PER_SECOND;

/// Largest `FeedbackMaxMessagesPerSecond` that [`FeedbackConfig::from_registry`] accepts.
const FEEDBACK_MAX_PER_SECOND: u32 = FeedbackConfig::MAX_PER_SECOND;

/// The feedback guard a read of `FeedbackMaxMessagesPerSecond` selects (an absent value reads
/// as [`FEEDBACK_DEFAULT_PER_SECOND`]; 0 disables the guard), and why it fell back to
/// [`FeedbackConfig::DEFAULT`] if it did.
pub fn feedback_setting(read: Result<u32, NtStatus>) -> (FeedbackConfig, Option<SettingProblem>) {
    dword_setting(
        read,
        FeedbackConfig::DEFAULT,
        (0, FEEDBACK_MAX_PER_SECOND),
        FeedbackConfig::from_registry,
    )
}

/// A cable's friendly name: 1 to [`MAX_NAME_UNITS`] UTF-16 units, stored NUL-terminated.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CableName {
    units: [u16; MAX_NAME_UNITS + 1],
    len: usize,
}

impl CableName {
    /// The default name of cable `index` (0-based, below [`MAX_CABLES`]): `MxfLoop <n>`.
    pub const fn default_for(index: usize) -> Self {
        let (name, len) = default_name_units(index);
        let mut units = [0u16; MAX_NAME_UNITS + 1];
        let mut i = 0;
        while i < len {
            units[i] = name[i];
            i += 1;
        }
        Self { units, len }
    }

    /// The name as UTF-16 units, without the NUL.
    pub fn units(&self) -> &[u16] {
        self.units.get(..self.len).unwrap_or(&[])
    }

    /// The name as NUL-terminated UTF-16 (what a `REG_SZ` holds).
    pub fn wide_z(&self) -> &[u16] {
        self.units.get(..=self.len).unwrap_or(&[0])
    }

    /// `units` as a name, or why it cannot be one.
    fn parse(units: impl Iterator<Item = u16> + Clone) -> Result<Self, NameProblem> {
        let len = units.clone().count();
        if units.clone().all(|u| u == u16::from(b' ')) {
            return Err(NameProblem::Empty);
        }
        if len > MAX_NAME_UNITS {
            return Err(NameProblem::TooLong(len));
        }
        let printable = char::decode_utf16(units.clone()).all(|c| c.is_ok_and(|c| !c.is_control()));
        if !printable {
            return Err(NameProblem::Invalid);
        }
        let mut out = [0u16; MAX_NAME_UNITS + 1];
        for (slot, u) in out.iter_mut().zip(units) {
            *slot = u;
        }
        Ok(Self { units: out, len })
    }
}

impl fmt::Display for CableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Utf16(self.units()).fmt(f)
    }
}

/// UTF-16 units (without a NUL) displayed as text, a broken surrogate as U+FFFD: how names
/// and reference strings reach the log.
pub struct Utf16<'a>(pub &'a [u16]);

impl fmt::Display for Utf16<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in char::decode_utf16(self.0.iter().copied()) {
            fmt::Write::write_char(f, c.unwrap_or(char::REPLACEMENT_CHARACTER))?;
        }
        Ok(())
    }
}

impl fmt::Debug for CableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Why an entry of `CableNames` was not used (its cable keeps its default name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameProblem {
    /// The entry is empty or only spaces.
    Empty,
    /// The entry has this many UTF-16 units, more than [`MAX_NAME_UNITS`].
    TooLong(usize),
    /// The entry has a control character or is not valid UTF-16.
    Invalid,
    /// The entry is the name an earlier cable (this number, 1-based) already has.
    Duplicate(usize),
    /// The entry is the default name of another cable in use (this number, 1-based), which
    /// would then have the same name if it keeps its default.
    DefaultOfOther(usize),
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "empty"),
            Self::TooLong(n) => {
                write!(f, "too long ({n} UTF-16 units, at most {MAX_NAME_UNITS})")
            }
            Self::Invalid => write!(f, "a control character or broken UTF-16"),
            Self::Duplicate(n) => write!(f, "the name of cable {n} already"),
            Self::DefaultOfOther(n) => {
                write!(
                    f,
                    "the default name of cable {n} (\"{DEFAULT_NAME_PREFIX}{n}\")"
                )
            }
        }
    }
}

/// The cables to install and their friendly names, decoded from `CableCount` and `CableNames`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CableNames {
    count: usize,
    names: [CableName; MAX_CABLES],
    problems: [Option<NameProblem>; MAX_CABLES],
    value_problem: Option<SettingProblem>,
    ignored_entries: usize,
}

impl CableNames {
    /// `count` cables (clamped to 1..=[`MAX_CABLES`]) with their default names.
    pub fn defaults(count: usize) -> Self {
        let mut names = [CableName::default_for(0); MAX_CABLES];
        for (i, n) in names.iter_mut().enumerate() {
            *n = CableName::default_for(i);
        }
        Self {
            count: count.clamp(1, MAX_CABLES),
            names,
            problems: [None; MAX_CABLES],
            value_problem: None,
            ignored_entries: 0,
        }
    }

    /// The names of the cables in use, cable 1 first.
    pub fn names(&self) -> &[CableName] {
        self.names.get(..self.count).unwrap_or(&[])
    }

    /// The entries that were refused: (cable index, 0-based; why).
    pub fn problems(&self) -> impl Iterator<Item = (usize, NameProblem)> + '_ {
        self.problems
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.map(|p| (i, p)))
    }

    /// Why the whole value was not used (every cable keeps its default), if it was not.
    pub fn value_problem(&self) -> Option<SettingProblem> {
        self.value_problem
    }

    /// Entries past the last cable in use (ignored).
    pub fn ignored_entries(&self) -> usize {
        self.ignored_entries
    }

    /// Gives cable `index` the entry `units`, unless it is refused (then it keeps its default
    /// and the reason is recorded).
    fn offer(&mut self, index: usize, units: impl Iterator<Item = u16> + Clone) {
        let verdict = CableName::parse(units).and_then(|name| {
            let other_default = (0..self.count)
                .filter(|&j| j != index)
                .find(|&j| CableName::default_for(j) == name);
            if let Some(j) = other_default {
                return Err(NameProblem::DefaultOfOther(j + 1));
            }
            let earlier = self.names.get(..index).unwrap_or(&[]);
            match earlier.iter().position(|n| *n == name) {
                Some(j) => Err(NameProblem::Duplicate(j + 1)),
                None => Ok(name),
            }
        });
        match verdict {
            Ok(name) => {
                if let Some(slot) = self.names.get_mut(index) {
                    *slot = name;
                }
            }
            Err(problem) => {
                if let Some(slot) = self.problems.get_mut(index) {
                    *slot = Some(problem);
                }
            }
        }
    }
}

/// The names `count` cables get from a read of `CableNames`: `Ok(None)` the value is absent,
/// `Ok(Some(raw))` its bytes (a `REG_MULTI_SZ`: UTF-16LE strings, each ending with a NUL, the
/// list ending with an empty string), `Err` it could not be read (every cable keeps its default
/// name). Entry *n* names cable *n*; a missing entry, and a refused one ([`NameProblem`]), leaves
/// the cable its default `MxfLoop <n>`. Decoding is lenient where it costs nothing: an empty
/// entry before the last one refuses only that entry, an odd last byte and a missing final NUL
/// are ignored.
pub fn cable_names_setting(read: Result<Option<&[u8]>, NtStatus>, count: usize) -> CableNames {
    let mut out = CableNames::defaults(count);
    let raw = match read {
        Ok(Some(raw)) => raw,
        Ok(None) => return out,
        Err(status) => {
            out.value_problem = Some(SettingProblem::Unreadable(status));
            return out;
        }
    };
    let unit = |i: usize| {
        let b = raw.get(2 * i..2 * i + 2)?;
        Some(u16::from_le_bytes([*b.first()?, *b.get(1)?]))
    };
    // The list ends after its last non-empty entry: trailing NULs are terminators.
    let mut end = raw.len() / 2;
    while end > 0 && unit(end - 1) == Some(0) {
        end -= 1;
    }
    let mut start = 0;
    let mut entry = 0;
    while start < end {
        let stop = (start..end).find(|&i| unit(i) == Some(0)).unwrap_or(end);
        if entry < out.count {
            out.offer(entry, (start..stop).filter_map(unit));
        } else {
            out.ignored_entries += 1;
        }
        entry += 1;
        start = stop + 1;
    }
    out
}

#[cfg(test)]
mod tests;
