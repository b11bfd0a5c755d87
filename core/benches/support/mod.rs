//! What the core's benchmark programs share: sizes on the command line, the calling thread's CPU
//! time, and statistics over rounds.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

/// The command line every benchmark takes: `--size N[K|M|G]`, `--rounds N`, `--dir PATH`,
/// `--calls N` (cargo adds `--bench`).
pub struct Args {
    pub size: u64,
    pub rounds: usize,
    pub dir: PathBuf,
    pub calls: usize,
}

impl Args {
    /// The arguments, over the defaults `size` and 5 rounds in the temporary directory with
    /// 200,000 calls.
    pub fn parse(size: u64) -> Args {
        let mut a = Args {
            size,
            rounds: 5,
            dir: std::env::temp_dir(),
            calls: 200_000,
        };
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
            match arg.as_str() {
                "--size" => a.size = parse_size(&value()),
                "--rounds" => a.rounds = value().parse().expect("rounds"),
                "--dir" => a.dir = PathBuf::from(value()),
                "--calls" => a.calls = value().parse().expect("calls"),
                "--bench" => {}
                other => panic!("unknown argument {other}"),
            }
        }
        a
    }
}

/// Bytes in a GiB, for throughput figures.
pub const GIB: f64 = (1u64 << 30) as f64;

/// A size with an optional K, M or G suffix (powers of two).
pub fn parse_size(s: &str) -> u64 {
    let s = s.trim();
    let (num, mul) = match s.chars().last() {
        Some('G' | 'g') => (&s[..s.len() - 1], 1u64 << 30),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('K' | 'k') => (&s[..s.len() - 1], 1 << 10),
        _ => (s, 1),
    };
    num.parse::<u64>().expect("size") * mul
}

/// The calling thread's user + system CPU time.
pub fn thread_cpu() -> Duration {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: `ru` has room for a rusage.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, ru.as_mut_ptr()) };
    // SAFETY: getrusage filled it.
    let ru = unsafe { ru.assume_init() };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// The median of a non-empty set of samples.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[s.len() / 2]
}

/// The smallest sample.
pub fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

/// The largest sample.
pub fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}
