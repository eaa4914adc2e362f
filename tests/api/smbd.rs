//! A real Samba server for the tests: everything in a temp dir, one share `api_import`, a
//! loopback address of its own (two smbd on one address and port would silently share it).

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub const SMB_USER: &str = "patriot";
pub const SMB_PASSWORD: &str = "s3cret-Påss%word";
const PORT: u16 = 4450;

static NEXT: AtomicU32 = AtomicU32::new(1);

pub struct TestSmbd {
    dir: TempDir,
    child: Option<Child>,
    ip: String,
}

/// A loopback address no other test (or test process) uses.
fn unique_ip() -> String {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let pid = std::process::id();
    format!(
        "127.{}.{}.{}",
        10 + pid % 200,
        (pid / 200) % 250 + 1,
        n % 250 + 1
    )
}

impl TestSmbd {
    pub fn start() -> Self {
        let dir = TempDir::new().unwrap();
        let ip = unique_ip();
        let d = dir.path();
        for sub in [
            "private", "lock", "state", "cache", "pid", "ncalrpc", "share", "logs",
        ] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        std::fs::write(d.join("usermap"), format!("root = {SMB_USER}\n")).unwrap();
        let conf = format!(
            "[global]\n\
             workgroup = WORKGROUP\n\
             server role = standalone server\n\
             interfaces = {ip}/8\n\
             bind interfaces only = yes\n\
             smb ports = {PORT}\n\
             disable netbios = yes\n\
             private dir = {d}/private\n\
             lock directory = {d}/lock\n\
             state directory = {d}/state\n\
             cache directory = {d}/cache\n\
             pid directory = {d}/pid\n\
             ncalrpc dir = {d}/ncalrpc\n\
             passdb backend = tdbsam:{d}/private/passdb.tdb\n\
             username map = {d}/usermap\n\
             log file = {d}/logs/log.%m\n\
             load printers = no\n\
             printing = bsd\n\
             printcap name = /dev/null\n\
             disable spoolss = yes\n\
             map to guest = never\n\
             server min protocol = SMB2\n\
             [api_import]\n\
             path = {d}/share\n\
             read only = no\n\
             guest ok = no\n",
            d = d.display()
        );
        std::fs::write(d.join("smb.conf"), conf).unwrap();
        let mut smbpasswd = Command::new("smbpasswd")
            .args([
                "-c",
                &d.join("smb.conf").to_string_lossy(),
                "-s",
                "-a",
                "root",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("smbpasswd (apt-get install samba)");
        {
            use std::io::Write;
            let stdin = smbpasswd.stdin.as_mut().unwrap();
            write!(stdin, "{SMB_PASSWORD}\n{SMB_PASSWORD}\n").unwrap();
        }
        let out = smbpasswd.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "smbpasswd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut smbd = Self {
            dir,
            child: None,
            ip,
        };
        smbd.run();
        smbd
    }

    /// Starts (again) the server process and waits until it accepts connections.
    pub fn run(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("logs/smbd.out")).unwrap();
        let child = Command::new("smbd")
            .args(["--foreground", "--debug-stdout", "--no-process-group", "-s"])
            .arg(self.dir.path().join("smb.conf"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("smbd (apt-get install samba)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect((self.ip.as_str(), PORT)).is_err() {
            assert!(
                Instant::now() < deadline,
                "smbd did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM to the server's process group, then reap it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe { libc::kill(-(child.id() as i32), libc::SIGTERM) };
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("logs/smbd.out")).unwrap_or_default()
    }

    /// `SMB_SERVER` for the combiner.
    pub fn server(&self) -> String {
        format!("{}:{PORT}", self.ip)
    }

    /// The folder behind the share, as the server sees it.
    pub fn share_path(&self) -> PathBuf {
        self.dir.path().join("share")
    }

    pub fn file(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.share_path().join(name)).ok()
    }

    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.share_path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TestSmbd {
    fn drop(&mut self) {
        self.stop();
    }
}
