//! What the planner learns about a pair beyond the descriptors' kinds: the file system of a file
//! target, and whether a socket's peer is on this host. Learned once per descriptor, on the slow
//! path; the route it leads to is then kept with the descriptor's hint.

use std::net::IpAddr;
use std::os::fd::BorrowedFd;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::socket::{getpeername, getsockname, AddressFamily, SockaddrLike, SockaddrStorage};
use nix::sys::statfs::fstatfs;

use super::job::Job;

/// What a file target's file system does with `copy_file_range`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FsClass {
    /// Shares blocks instead of copying (reflink: XFS, Btrfs, bcachefs, OCFS2, ZFS block cloning).
    Clone,
    /// Copies on the server (NFS 4.2, SMB, CephFS): the bytes never cross the network.
    ServerCopy,
    /// Lives in memory (tmpfs, ramfs): every route is a memory copy.
    Memory,
    /// Anything else (ext4, ...): `copy_file_range` is an in-kernel copy like the others.
    Other,
}

/// Magic numbers of `statfs(2)`'s `f_type` (linux/magic.h), as the kernel reports them.
const CLONE_FS: [i64; 5] = [
    0x5846_5342, // XFS
    0x9123_683e, // Btrfs
    0xca45_1a4e, // bcachefs
    0x7461_636f, // OCFS2
    0x2fc1_2fc1, // ZFS
];
const SERVER_COPY_FS: [i64; 4] = [
    0x6969,      // NFS
    0xfe53_4d42, // SMB2
    0xff53_4d42, // CIFS
    0x00c3_6400, // CephFS
];
const MEMORY_FS: [i64; 2] = [
    0x0102_1994, // tmpfs
    0x8584_58f6, // ramfs
];

/// The class of `fd`'s file system (one counted `fstatfs`); `Other` when it cannot be read.
pub(crate) fn fs_class(job: &Job<'_>, fd: BorrowedFd<'_>) -> FsClass {
    job.tick(1);
    let Ok(st) = fstatfs(fd) else {
        return FsClass::Other;
    };
    // f_type is an i64 on x86-64 and narrower on some other architectures.
    #[allow(clippy::unnecessary_cast)]
    let magic = st.filesystem_type().0 as i64;
    if CLONE_FS.contains(&magic) {
        FsClass::Clone
    } else if SERVER_COPY_FS.contains(&magic) {
        FsClass::ServerCopy
    } else if MEMORY_FS.contains(&magic) {
        FsClass::Memory
    } else {
        FsClass::Other
    }
}

/// Where a socket's peer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PeerClass {
    /// A TCP or UDP peer on this host: a loopback address or one of this host's own addresses.
    /// The receiver copies every byte out of its socket anyway.
    LocalInet,
    /// An `AF_UNIX` peer.
    Unix,
    /// Anything else: another host (a container in another network namespace counts as one:
    /// its address is not one of this namespace's), or a socket that is not connected.
    Remote,
}

/// The class of the peer of socket `fd` (a counted `getsockname` and `getpeername`, and now and
/// then a read of this host's addresses).
pub(crate) fn peer_class(job: &Job<'_>, fd: BorrowedFd<'_>) -> PeerClass {
    use std::os::fd::AsRawFd;
    job.tick(1);
    let Ok(local) = getsockname::<SockaddrStorage>(fd.as_raw_fd()) else {
        return PeerClass::Remote;
    };
    if local.family() == Some(AddressFamily::Unix) {
        return PeerClass::Unix;
    }
    job.tick(1);
    let Some(peer) = getpeername::<SockaddrStorage>(fd.as_raw_fd())
        .ok()
        .and_then(|p| ip(&p))
    else {
        return PeerClass::Remote;
    };
    if is_loopback(peer) || ip(&local) == Some(peer) || is_own_address(peer) {
        PeerClass::LocalInet
    } else {
        PeerClass::Remote
    }
}

fn ip(addr: &SockaddrStorage) -> Option<IpAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(IpAddr::V4(v4.ip()));
    }
    addr.as_sockaddr_in6().map(|v6| {
        let ip = v6.ip();
        ip.to_ipv4_mapped().map_or(IpAddr::V6(ip), IpAddr::V4)
    })
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback(),
    }
}

/// This host's own addresses (of this network namespace), read at most every few seconds: a
/// transfer to a new peer costs no `getifaddrs` of its own.
struct OwnAddresses {
    read_at: Instant,
    addrs: Vec<IpAddr>,
}

static OWN_ADDRESSES: Mutex<Option<OwnAddresses>> = Mutex::new(None);
const OWN_ADDRESSES_TTL: Duration = Duration::from_secs(5);

fn is_own_address(addr: IpAddr) -> bool {
    let mut cache = OWN_ADDRESSES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if cache
        .as_ref()
        .is_none_or(|c| c.read_at.elapsed() > OWN_ADDRESSES_TTL)
    {
        let addrs = nix::ifaddrs::getifaddrs()
            .map(|list| list.filter_map(|ifa| ip(&ifa.address?)).collect())
            .unwrap_or_default();
        *cache = Some(OwnAddresses {
            read_at: Instant::now(),
            addrs,
        });
    }
    cache.as_ref().is_some_and(|c| c.addrs.contains(&addr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn loopback_addresses_are_local() {
        assert!(is_loopback(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 7))));
        assert!(is_loopback(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert!(!is_loopback(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))));
    }

    #[test]
    fn the_loopback_address_is_one_of_this_hosts() {
        assert!(is_own_address(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert!(
            !is_own_address(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
            "TEST-NET-1 is nobody's"
        );
    }
}
