//! How many probes may be in flight at once without running out of file
//! descriptors: the open-files limit (`ulimit -n`), raised towards its hard
//! limit when it is too low, divided by what one probe may hold.

/// Open files one probe may hold at a time: a command's two output pipes,
/// the pair still being set up while it starts and its exec-status pipe; an
/// HTTP probe's socket and the second one that reads the certificate.
const FILES_PER_PROBE: u64 = 6;
/// Open files kept for the rest of the run: stdio, the database, its WAL and
/// shared memory, the lock, mail and heartbeat sockets, outputs.
const FILES_RESERVED: u64 = 64;

/// How many of `wanted` probes may be in flight without running out of file
/// descriptors, which would fail healthy services with "Too many open
/// files". A soft limit too low for `wanted` is first raised, towards the
/// hard limit but no further than needed: the programs we start inherit it,
/// and some still assume 1024.
pub fn workers_within_open_files(wanted: usize) -> usize {
    let needed = (wanted as u64)
        .saturating_mul(FILES_PER_PROBE)
        .saturating_add(FILES_RESERVED);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write this struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return usize::MAX;
        }
        if limit.rlim_cur < needed.min(limit.rlim_max) {
            let raised = libc::rlimit {
                rlim_cur: needed.min(limit.rlim_max),
                ..limit
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    if limit.rlim_cur == libc::RLIM_INFINITY {
        return usize::MAX;
    }
    let workers = limit.rlim_cur.saturating_sub(FILES_RESERVED) / FILES_PER_PROBE;
    usize::try_from(workers.max(1)).unwrap_or(usize::MAX)
}
