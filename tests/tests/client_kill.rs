//! Proves CLIENT KILL as an operator uses it against a live server: by id,
//! by address (old and new forms), a client blocked in BLPOP, the caller
//! itself with SKIPME no, filters that match nobody, connections on every
//! data thread, and no reach into another database. Runs against
//! redis-server too, and through redis-cli.

use petrel_e2e::{Config, Database, RawConn, Reply, Server};

/// This connection's id and peer address, from CLIENT INFO.
fn id_and_address(connection: &mut RawConn) -> (String, String) {
    let info = connection
        .command(&["CLIENT", "INFO"])
        .as_text()
        .expect("CLIENT INFO is text");
    let field = |name: &str| {
        info.split_whitespace()
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("CLIENT INFO has no {name}: {info}"))
            .to_string()
    };
    (field("id"), field("addr"))
}

fn assert_closed(connection: &mut RawConn, what: &str) {
    assert!(
        connection.read_until_closed().is_empty(),
        "{what}: the killed connection should close without a reply"
    );
}

fn assert_serves(connection: &mut RawConn, what: &str) {
    assert_eq!(
        connection.command(&["PING"]),
        Reply::simple("PONG"),
        "{what} should still be served"
    );
}

// By id, by address in both forms, and a blocked client: each named
// connection closes and the others keep being served.
#[test]
fn kills_the_connections_it_names() {
    let server = Server::start(Config::new());
    let mut operator = server.raw();
    let mut bystander = server.raw();

    let mut by_id = server.raw();
    let (id, _) = id_and_address(&mut by_id);
    assert_eq!(
        operator.command(&["CLIENT", "KILL", "ID", &id]),
        Reply::Integer(1)
    );
    assert_closed(&mut by_id, "CLIENT KILL ID");
    assert_eq!(
        operator.command(&["CLIENT", "KILL", "ID", &id]),
        Reply::Integer(0),
        "a closed connection is not killed twice"
    );

    let mut by_address = server.raw();
    let (_, address) = id_and_address(&mut by_address);
    assert_eq!(
        operator.command(&["CLIENT", "KILL", "ADDR", &address, "TYPE", "normal"]),
        Reply::Integer(1)
    );
    assert_closed(&mut by_address, "CLIENT KILL ADDR");

    let mut old_form = server.raw();
    let (_, address) = id_and_address(&mut old_form);
    assert_eq!(
        operator.command(&["CLIENT", "KILL", &address]),
        Reply::simple("OK")
    );
    assert_closed(&mut old_form, "CLIENT KILL ip:port");
    assert_eq!(
        operator.command(&["CLIENT", "KILL", &address]),
        Reply::Error("ERR No such client".into())
    );

    // A client parked in BLPOP is released by the kill, not left waiting.
    let mut blocked = server.raw();
    let (id, _) = id_and_address(&mut blocked);
    blocked.send_command(&["BLPOP", "never-pushed", "0"]);
    let mut killed = Reply::Integer(0);
    for _ in 0..50 {
        // BLPOP may still be on its way when the first kill is sent.
        killed = operator.command(&["CLIENT", "KILL", "ID", &id]);
        if killed == Reply::Integer(1) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(killed, Reply::Integer(1));
    assert_closed(&mut blocked, "a blocked client");

    for (filter, value) in [("TYPE", "replica"), ("TYPE", "master"), ("USER", "default")] {
        let answer = operator.command(&["CLIENT", "KILL", filter, value, "ADDR", "10.9.9.9:1"]);
        assert_eq!(answer, Reply::Integer(0), "{filter} {value}");
    }
    assert_serves(&mut bystander, "a connection nobody named");
    assert_serves(&mut operator, "the operator's connection");
}

// SKIPME no lets a connection kill itself: it gets its answer, then the
// server closes it. By default (SKIPME yes) it is spared.
#[test]
fn a_connection_can_kill_itself() {
    let server = Server::start(Config::new());
    let mut connection = server.raw();
    let (id, _) = id_and_address(&mut connection);
    assert_eq!(
        connection.command(&["CLIENT", "KILL", "ID", &id]),
        Reply::Integer(0)
    );
    assert_serves(&mut connection, "a connection spared by SKIPME's default");
    assert_eq!(
        connection.command(&["CLIENT", "KILL", "ID", &id, "SKIPME", "no"]),
        Reply::Integer(1)
    );
    assert_closed(&mut connection, "SKIPME no");
}

// Connections land on every data thread; each one is found and closed,
// whichever thread the operator's own connection is on.
#[test]
fn kills_connections_on_every_thread() {
    let server = Server::start(Config::new().data_cores(2));
    let mut operator = server.raw();
    let mut victims: Vec<(RawConn, String)> = (0..12)
        .map(|_| {
            let mut connection = server.raw();
            let (id, _) = id_and_address(&mut connection);
            (connection, id)
        })
        .collect();
    for (connection, id) in &mut victims {
        assert_eq!(
            operator.command(&["CLIENT", "KILL", "ID", id]),
            Reply::Integer(1),
            "client {id}"
        );
        assert_closed(connection, "a client on either thread");
    }
    assert_serves(&mut operator, "the operator's connection");
}

// A connection to one database cannot kill another database's clients,
// and redis-cli prints the count as it does against Redis.
#[test]
fn reaches_only_its_own_database() {
    let server = Server::start(
        Config::new().databases(vec![Database::new("first"), Database::new("second")]),
    );
    let mut first = server.raw_of("first");
    let mut second = server.raw_of("second");
    let (first_id, _) = id_and_address(&mut first);
    assert_eq!(
        second.command(&["CLIENT", "KILL", "ID", &first_id]),
        Reply::Integer(0)
    );
    // Every normal client but the caller, of its own database only.
    assert!(matches!(
        second.command(&["CLIENT", "KILL", "TYPE", "normal"]),
        Reply::Integer(_)
    ));
    assert_serves(&mut first, "the other database's client");

    let printed = server.redis_cli(&["CLIENT", "KILL", "ID", &first_id], None);
    assert!(printed.status.success(), "{printed:?}");
    assert_eq!(printed.stdout.trim(), "1", "{printed:?}");
    assert_closed(&mut first, "a client killed through redis-cli");
}

/// The CLIENT LIST line of the connection from `address`, if listed.
fn listed(operator: &mut RawConn, address: &str) -> Option<String> {
    let list = operator
        .command(&["CLIENT", "LIST"])
        .as_text()
        .expect("CLIENT LIST is text");
    list.lines()
        .find(|line| line.contains(&format!(" addr={address} ")))
        .map(str::to_string)
}

// A connection that has sent nothing yet is a client already: CLIENT LIST
// shows it (cmd=NULL) and CLIENT KILL closes it, so an operator can find
// and drop silent connections that hold places under maxclients.
#[test]
fn a_silent_connection_is_listed_and_can_be_killed() {
    let server = Server::start(Config::new());
    let mut operator = server.raw();
    let mut silent = std::net::TcpStream::connect(("127.0.0.1", server.port()))
        .expect("connect a silent client");
    let address = silent.local_addr().expect("local address").to_string();
    let mut line = None;
    for _ in 0..100 {
        line = listed(&mut operator, &address);
        if line.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let line = line.unwrap_or_else(|| panic!("CLIENT LIST lacks the silent client {address}"));
    assert!(line.contains(" cmd=NULL "), "{line}");

    assert_eq!(
        operator.command(&["CLIENT", "KILL", "ADDR", &address]),
        Reply::Integer(1)
    );
    silent
        .set_read_timeout(Some(petrel_e2e::IO_TIMEOUT))
        .expect("set a read timeout");
    let mut byte = [0u8; 1];
    let read = std::io::Read::read(&mut silent, &mut byte).expect("the close, not a timeout");
    assert_eq!(
        read, 0,
        "the killed silent client should see the end of the stream"
    );
    assert_eq!(listed(&mut operator, &address), None);
}
