//! A private sshd for the many-machines tests: 127.0.0.1 only, a free port, host
//! and user keys made in a temporary directory, and an ssh_config that names it
//! as several hosts. Stopped (and its sessions with it) when dropped.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SSHD: &str = "/usr/sbin/sshd";

pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
}

impl Sshd {
    /// Starts sshd answering as every name in `hosts` (all 127.0.0.1).
    /// Panics, saying why, when it cannot: CI installs openssh-server.
    pub fn start(hosts: &[&str]) -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install openssh-server (.ci/run does)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("user_key"));
        std::fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).expect("authorized_keys");
        // sshd refuses to start without its privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = free_port();
        let config = format!(
            "ListenAddress 127.0.0.1:{port}\n\
             HostKey {d}/host_key\n\
             AuthorizedKeysFile {d}/authorized_keys\n\
             StrictModes no\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             UsePAM no\n\
             PermitRootLogin yes\n\
             PidFile none\n\
             MaxStartups 100\n\
             LogLevel ERROR\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).expect("sshd_config");
        // Whoever runs the suite logs in as themselves.
        let user = nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map_or_else(|| "root".into(), |u| u.name);
        let client = format!(
            "Host {names}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  \
             IdentityFile {d}/user_key\n  IdentitiesOnly yes\n  UserKnownHostsFile {d}/known_hosts\n  \
             StrictHostKeyChecking no\n  LogLevel ERROR\n",
            names = hosts.join(" "),
            d = d.display()
        );
        std::fs::write(d.join("ssh_config"), client).expect("ssh_config");
        let child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start sshd");
        let sshd = Sshd { dir, port, child };
        sshd.wait_listening();
        sshd
    }

    /// `-F CONFIG`: the ssh options that reach this sshd under its host names.
    pub fn ssh_args(&self) -> Vec<String> {
        vec!["-F".into(), self.config().display().to_string()]
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("ssh_config")
    }

    /// `ssh -T -o BatchMode=yes -F CONFIG HOST REMOTE...`
    pub fn ssh(&self, host: &str, remote: &[&str]) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(["-T", "-o", "BatchMode=yes"])
            .args(self.ssh_args())
            .arg(host)
            .args(remote);
        cmd
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd never listened on 127.0.0.1:{}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen (install openssh-client)");
    assert!(status.success(), "ssh-keygen failed");
}

/// A port nobody listens on now (the kernel's pick, on loopback).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("addr").port()
}
