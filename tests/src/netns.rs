//! Network namespaces a test makes for itself: a server side and a client
//! side joined by a veth pair, so that a test can take the client's link
//! down (a client host that vanishes without a FIN or a reset) without
//! touching the machine's own network. Needs root; [`Pair::create`] answers
//! `None` where namespaces cannot be made, and the test says it skipped.
//!
//! Joining a namespace is per thread: a test thread that joins the server
//! side starts its server (and its redis-cli) there, while other tests'
//! threads stay where they were.

use std::fs::File;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The server side's address on the veth link.
pub const SERVER_ADDRESS: &str = "10.251.0.1";
const CLIENT_ADDRESS: &str = "10.251.0.2";

static PAIRS_MADE: AtomicU32 = AtomicU32::new(0);

/// Two namespaces and the veth pair between them; deleted on drop.
pub struct Pair {
    server_side: String,
    client_side: String,
    client_link: String,
}

impl Pair {
    /// Makes the namespaces, or says why not and answers `None`.
    pub fn create() -> Option<Pair> {
        let tag = format!(
            "{}{}",
            std::process::id(),
            PAIRS_MADE.fetch_add(1, Ordering::Relaxed)
        );
        let pair = Pair {
            server_side: format!("petrel-test-{tag}-s"),
            client_side: format!("petrel-test-{tag}-c"),
            // Interface names have at most 15 bytes.
            client_link: format!("pt{}c", &tag[tag.len().saturating_sub(10)..]),
        };
        let server_link = format!("pt{}s", &tag[tag.len().saturating_sub(10)..]);
        if let Err(why) = ip(&["netns", "add", &pair.server_side]) {
            eprintln!("skipped: cannot make a network namespace (needs root): {why}");
            return None;
        }
        if let Err(why) = ip(&["netns", "add", &pair.client_side]) {
            eprintln!("skipped: cannot make a second network namespace: {why}");
            return None;
        }
        let (s, c) = (pair.server_side.as_str(), pair.client_side.as_str());
        let link = pair.client_link.as_str();
        let steps: [&[&str]; 7] = [
            &[
                "-n",
                s,
                "link",
                "add",
                &server_link,
                "type",
                "veth",
                "peer",
                "name",
                link,
                "netns",
                c,
            ],
            &[
                "-n",
                s,
                "addr",
                "add",
                &format!("{SERVER_ADDRESS}/24"),
                "dev",
                &server_link,
            ],
            &[
                "-n",
                c,
                "addr",
                "add",
                &format!("{CLIENT_ADDRESS}/24"),
                "dev",
                link,
            ],
            &["-n", s, "link", "set", "lo", "up"],
            &["-n", c, "link", "set", "lo", "up"],
            &["-n", s, "link", "set", &server_link, "up"],
            &["-n", c, "link", "set", link, "up"],
        ];
        for step in steps {
            if let Err(why) = ip(step) {
                // Dropping the pair deletes what was made so far.
                eprintln!("skipped: cannot link two network namespaces (veth): {why}");
                return None;
            }
        }
        Some(pair)
    }

    /// Moves the calling thread into the server side: servers, tools and
    /// sockets it starts from now on live there (127.0.0.1 is that side's own).
    pub fn enter_server_side(&self) {
        join(&self.server_side);
    }

    /// A connection from the client side to `port` on the server side.
    pub fn connect_from_client_side(&self, port: u16) -> TcpStream {
        let namespace = self.client_side.clone();
        std::thread::spawn(move || {
            join(&namespace);
            let stream = TcpStream::connect((SERVER_ADDRESS, port))
                .unwrap_or_else(|error| panic!("connect from the client side: {error}"));
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("read timeout");
            stream
        })
        .join()
        .expect("client-side thread")
    }

    /// Takes the client side's link down: from the server side the client
    /// goes silent, as if its host had lost power.
    pub fn cut_client_off(&self) {
        ip(&[
            "-n",
            &self.client_side,
            "link",
            "set",
            &self.client_link,
            "down",
        ])
        .unwrap_or_else(|why| panic!("take the client link down: {why}"));
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end in it, and so the pair.
        let _ = ip(&["netns", "del", &self.client_side]);
        let _ = ip(&["netns", "del", &self.server_side]);
    }
}

fn join(namespace: &str) {
    let path = format!("/run/netns/{namespace}");
    let file = File::open(&path).unwrap_or_else(|error| panic!("open {path}: {error}"));
    // SAFETY: setns on a file descriptor this function holds open; it moves
    // only the calling thread.
    let joined = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(
        joined,
        0,
        "join {namespace}: {}",
        std::io::Error::last_os_error()
    );
}

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|error| format!("ip {}: {error}", args.join(" ")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}
