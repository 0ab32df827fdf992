import Glibc
import Synchronization
import KVEngine
import RESP

/// One client: its socket, query buffer, parser, reply buffer and session state (database, protocol,
/// authentication, name). Owned by one event loop (or one serial queue) for its whole life; never
/// touched by two threads at once (handed over once, from the accepting thread to its owner: hence
/// @unchecked Sendable).
///
/// The back end calls `readAndProcess` when the socket is readable: one read, then every complete
/// command in the buffer runs in order and its reply is appended to `output`. The back end flushes the
/// output once per burst with `flush`.
final class Connection: @unchecked Sendable {
    let fd: Int32
    let id: Int
    let server: Server
    /// "ip:port" of the peer.
    let peer: String
    /// The peer is on the loopback interface (enable-debug-command local).
    let isLocal: Bool
    let input = ByteBuffer(capacity: 16 * 1024)
    let output = ByteBuffer(capacity: 16 * 1024)
    /// Reply bytes the back end has taken from `output` and not yet written (the io_uring loop's send in
    /// flight): counted against the output limits with `output`.
    var outputInFlight = 0
    private var parser: RequestParser
    /// The writer of this client's replies, made on each use from `output` (a constant) and the protocol:
    /// a stored writer, a variable, would be retained and released around every use (callgrind).
    var reply: ReplyWriter { @inline(__always) get { ReplyWriter(buffer: output, resp3: resp3) } }
    private(set) var resp3 = false
    private(set) var database: Store
    private(set) var databaseIndex = 0
    private(set) var authenticated: Bool
    var name: [UInt8]? = nil
    var libraryName = ""
    var libraryVersion = ""
    /// Set by QUIT, SHUTDOWN and protocol errors: no further command runs; close once the output is out.
    var closeAfterReply = false
    /// A command of this client runs on another thread (replyLater) or waits for a key (a blocking pop,
    /// Blocking.swift): later commands wait in the buffer.
    var blocked = false
    /// The wait of a blocking pop, while it lasts.
    var blockedOn: BlockedClient? = nil
    /// The loop or queue that runs this connection; set when the back end takes it.
    weak var owner: (any ConnectionOwner)?
    /// Monotonic milliseconds of the last read (for `timeout`).
    private(set) var lastInteraction: Int64
    private var overSoftLimitSince: Int64 = 0
    private var settings: ConnectionSettings
    /// MULTI's queue, and the keys WATCH watches (Transaction.swift).
    var transaction = Transaction()
    /// EXEC is running the queue: commands that would wait (WAIT, blocking pops) answer at once.
    var executingTransaction = false
    var watched: [WatchedKey] = []
    let watchFlag = WatchFlag()
    /// Channels and patterns this client listens to, and the messages publishers on other threads left
    /// for it (PubSub.swift).
    var subscriptions = Subscriptions()
    let mailbox = Mailbox()
    /// Set once the back end has closed the connection (a WAIT that waits forever ends then).
    let closed = Atomic<Bool>(false)
    /// Monotonic milliseconds at accept (CLIENT LIST's age).
    let createdAt = monotonicMilliseconds()
    /// When this batch's last command ended (monotonic microseconds; 0: none yet): the next command's time
    /// starts there, its parse included, so a command costs one clock read instead of two. The two were 8%
    /// of an LPUSH's time at P16 (perf). Only inside one `processInput`, and cleared when blocked clients
    /// were served in between.
    var commandClock = 0
    /// The last command run (CLIENT LIST's cmd).
    unowned(unsafe) var lastCommand: Command? = nil  // rows live as long as the table: no reference counting per command
    /// CLIENT REPLY OFF / SKIP: replies are dropped (all, or the next command's).
    var replyMode = ReplyMode.on
    enum ReplyMode { case on, off, skipNext }
    /// A command waits in the buffer for the end of a CLIENT PAUSE (the owner's cron resumes it).
    private(set) var awaitingUnpause = false
    /// CLIENT NO-EVICT on.
    var noEvict = false
    /// Channels, patterns and shard channels, for CLIENT LIST and KILL on other threads.
    private let subscriptionTotal = Atomic<Int>(0)
    var subscriptionsCount: Int { subscriptionTotal.load(ordering: .relaxed) }
    func subscriptionsChanged() {
        subscriptionTotal.store(subscriptions.count + subscriptions.shardChannels.count, ordering: .relaxed)
    }
    /// The protocol, for publishers on other threads (the reply writer's flag is the owner's).
    private let resp3Flag = Atomic<Bool>(false)
    /// Back-end bookkeeping: queued for a flush at the end of this burst; registered for writability.
    var queuedForFlush = false
    var awaitingWritable = false

    init(fd: Int32, peer: String, isLocal: Bool, server: Server, settings: ConnectionSettings) {
        self.fd = fd
        self.peer = peer
        self.isLocal = isLocal
        self.server = server
        id = server.nextClientID()
        self.settings = settings
        parser = RequestParser(limits: settings.limits)
        authenticated = settings.requirePass.isEmpty
        database = server.databases[0]
        lastInteraction = monotonicMilliseconds()
    }

    func select(_ index: Int) {
        databaseIndex = index
        database = server.databases[index]
    }

    func setProtocol(resp3: Bool) {
        self.resp3 = resp3
        resp3Flag.store(resp3, ordering: .relaxed)
    }

    var pushesAsResp3: Bool { resp3Flag.load(ordering: .relaxed) }

    /// RESP2 subscribed mode: only the pub/sub commands, PING, QUIT and RESET run.
    var inSubscribedMode: Bool { !reply.resp3 && !subscriptions.isEmpty }

    /// A frame from Connection.deliver into the output, on the owner's thread: a pub/sub frame (`push`,
    /// built with `*`) as a push frame in RESP3.
    func writeFrame(_ frame: UnsafeRawBufferPointer, push: Bool) {
        let first = push && reply.resp3 ? UInt8(ascii: ">") : frame[0]
        if heldPushes != nil {
            heldPushes!.append(first)
            heldPushes! += frame.dropFirst()
            return
        }
        output.append(first)
        output.append(UnsafeRawBufferPointer(rebasing: frame.dropFirst()))
    }

    /// Frames this client's own running command published to it, held until its reply is out: for the
    /// commands whose reply Redis writes before it makes the change (GETSET, GETDEL, GETEX, SET ... GET),
    /// so that a RESP3 client listening to its own keyspace notifications sees them in Redis' order.
    private(set) var heldPushes: [UInt8]? = nil

    func holdPushes() { heldPushes = [] }

    /// After the command's reply (CommandTable.run).
    func releaseHeldPushes() {
        if let held = heldPushes { output.append(held) }
        heldPushes = nil
    }

    /// Moves the mailbox into the output (on the owner's thread). A mailbox that overflowed its limit
    /// closes the connection, dropping what was not sent: then false.
    @discardableResult
    func takeMail() -> Bool {
        let (bytes, overflowed) = mailbox.take()
        if overflowed {
            if !closeAfterReply {
                server.log.warning("Client \(describe()) scheduled to be closed ASAP for overcoming of output buffer limits.")
            }
            output.removeAll()
            closeAfterReply = true
            return false
        }
        output.append(bytes)
        return !closeAfterReply
    }

    /// RESET's work: everything the session set, undone.
    func reset() {
        _ = transaction.close()
        unwatchAll()
        server.pubsub.removeAll(self)
        subscriptions = Subscriptions()
        subscriptionsChanged()
        takeMail()
        if !server.monitors.isEmpty { server.monitors.remove(self) }
        select(0)
        setProtocol(resp3: false)
        authenticated = settings.requirePass.isEmpty
        name = nil
    }

    /// An HTTP request sent to the server ("POST" or "Host:" as a command): drop everything, reply nothing,
    /// close (Redis' cross-protocol guard).
    func abortAsCrossProtocolAttack() {
        server.log.warning("Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to kvserver. Connection from \(peer) aborted.")
        output.removeAll()
        closeAfterReply = true
    }

    /// AUTH: only the default user exists; with no password configured any password is accepted for it, as
    /// Redis' nopass default user does.
    func authenticate(user: [UInt8], password: [UInt8]) -> Bool {
        guard user == Array("default".utf8) else { return false }
        let required = settings.requirePass
        guard required.isEmpty || constantTimeEqual(required, password) else { return false }
        authenticated = true
        return true
    }

    /// Reads once and runs every complete command. False when the connection must close now (peer closed,
    /// read error, query buffer over its limit).
    func readAndProcess() -> Bool {
        refreshSettings()
        // A large bulk argument is read straight to its full size instead of 16 KB at a time.
        input.reserve(max(16 * 1024, min(parser.bytesWanted, 64 << 20)))
        let space = input.writable
        let n = recv(fd, space.baseAddress, space.count, 0)
        if n <= 0 {
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return true }
            if n < 0 { server.log.verbose("Reading from client: \(String(cString: strerror(errno)))") }
            return false
        }
        input.didWrite(n)
        return received()
    }

    /// What `readAndProcess` does after its read, for bytes a completion-based back end (io_uring) has
    /// already read: appends them to the query buffer and runs every complete command.
    func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        refreshSettings()
        input.append(bytes)
        return received()
    }

    private func received() -> Bool {
        lastInteraction = monotonicMilliseconds()
        if input.count > settings.queryBufferLimit {
            server.log.warning("Closing client that reached max query buffer length: \(describe()) (qbuf initial bytes: \(preview()))")
            return false
        }
        processInput()
        return true
    }

    /// For commands too long for the event loop (VERIFY): `work` runs on a thread of its own and returns
    /// what writes the reply; the reply is written on the owner's thread when it is done. Meanwhile this
    /// client's later commands wait (replies stay in order) and every other client is served.
    func replyLater(_ work: @escaping @Sendable () -> @Sendable (ReplyWriter) -> Void) {
        guard let owner else { return work()(reply) }
        blocked = true
        startThread { [self] in
            let write = work()
            owner.resume(self) { [self] in
                write(reply)
                blocked = false
                processInput()
            }
        }
    }

    func processInput() {
        commandClock = 0
        lookahead = nil  // the input may have moved since the last pass (a read)
        defer { commandClock = 0; lookahead = nil }
        while !closeAfterReply && !blocked {
            switch parser.next(input, authenticated: authenticated) {
            case .needMore:
                input.shrinkIfIdle()
                return
            case .error(let message):
                server.log.verbose("Protocol error (\(message.dropFirst(20))) from client: \(describe())")
                reply.error(message)
                server.stats.recordError(message)
                closeAfterReply = true
            case .command:
                if server.pausedUntil.load(ordering: .relaxed) != 0, case .command(let cmd) = commandTable.resolve(parser.arguments),
                   server.mustWait(cmd) {
                    parser.rewind()
                    awaitingUnpause = true
                    return
                }
                prefetchNextKey()
                if replyMode == .on {
                    commandTable.execute(Call(args: parser.arguments, client: self))
                    if server.blocking.serveIfReady() { commandClock = 0 }
                } else {
                    // CLIENT REPLY OFF or SKIP: the command runs, its reply is dropped.
                    let mode = replyMode, before = output.count
                    commandTable.execute(Call(args: parser.arguments, client: self))
                    if mode == replyMode { output.truncate(to: before) }
                    if mode == .skipNext && replyMode == .skipNext { replyMode = .on }
                    if server.blocking.serveIfReady() { commandClock = 0 }
                }
                upcomingSameKey = nil  // it points into the input, which moves on
                parser.commandDone(input)
            }
        }
    }

    /// The next pipelined request's name and its second and third arguments when it names the same key as
    /// the command running, and those of the request after it when that one does too (`Call.upcomingArgument`);
    /// set before that command runs, cleared once it is done.
    private(set) var upcomingSameKey: UpcomingSameKey?
    struct UpcomingSameKey {
        let name: UnsafeRawBufferPointer
        let second: UnsafeRawBufferPointer
        let third: UnsafeRawBufferPointer?
        let afterNext: (second: UnsafeRawBufferPointer, third: UnsafeRawBufferPointer?)?
    }

    /// Hints the store at the keys of the next two pipelined requests, so that their cache misses overlap
    /// this command's work: the entry of the next one and the bucket of the one after (LookupHint.swift,
    /// `Store.prefetchEntry`). Nothing when no whole next request is buffered (P1). When the next request
    /// names this one's key (a pipeline on one hash or set: in the cache already), the command hints its
    /// value instead at the elements the next two requests name, when they are the same command.
    @inline(__always)
    private func prefetchNextKey() {
        guard let next = peekedNext() else { return }
        let args = parser.arguments
        guard args.count > 1 && same(args[1], next.argument) else {
            guard commandTable.firstKeyPosition(next.name) == 1 else { return }
            // Two ahead, as for a value's elements below: the bucket of the key after the next one (no
            // lock), and the entry of the next key, whose bucket the command before asked for.
            if let after = peekedAfter(next), commandTable.firstKeyPosition(after.name) == 1 {
                database.prefetch(after.argument)
            }
            database.prefetchEntry(next.argument)
            return
        }
        guard let second = next.second else { return }
        var afterNext: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?)? = nil
        if let after = peekedAfter(next), let s = after.second, same(after.argument, next.argument), same(after.name, next.name) {
            afterNext = (s, after.third)
        }
        upcomingSameKey = UpcomingSameKey(name: next.name, second: second, third: next.third, afterNext: afterNext)
    }

    /// The request after next as the last look ahead read it, and where it starts: the next command's look
    /// ahead takes it as its next request instead of parsing it again. Kept for one pass of `processInput`,
    /// in which the input's bytes do not move (running commands only consumes them).
    private var lookahead: (start: UnsafeRawPointer, request: RequestParser.Peeked)?

    @inline(__always)
    private func peekedNext() -> RequestParser.Peeked? {
        if let ahead = lookahead, ahead.start == parser.nextRequestStart(input) { return ahead.request }
        return parser.peekNext(input)
    }

    @inline(__always)
    private func peekedAfter(_ next: RequestParser.Peeked) -> RequestParser.Peeked? {
        guard let end = next.end, let after = parser.peekNext(input, at: end) else { return nil }
        lookahead = (end, after)
        return after
    }

    @inline(__always)
    private func same(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        a.count == b.count && (a.isEmpty || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
    }

    enum FlushResult { case drained, pending, failed }

    /// Writes as much of the output as the socket takes.
    func flush() -> FlushResult {
        while !output.isEmpty {
            let pending = output.readable
            let n = send(fd, pending.baseAddress, pending.count, Int32(MSG_NOSIGNAL))
            if n > 0 {
                output.consume(n)
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && errno == EAGAIN {
                return .pending
            } else {
                return .failed
            }
        }
        output.shrinkIfIdle()
        return .drained
    }

    /// Whether the output buffer broke client-output-buffer-limit (hard at once, soft after its seconds);
    /// logs why when it did.
    func outputOverLimit(now: Int64) -> Bool {
        refreshSettings()
        let limit = subscriptions.isEmpty ? settings.outputLimit : settings.pubsubOutputLimit
        let size = output.count + outputInFlight
        var over = limit.hard > 0 && size > limit.hard
        if limit.soft > 0 && size > limit.soft {
            if overSoftLimitSince == 0 { overSoftLimitSince = now }
            if now - overSoftLimitSince >= Int64(limit.softSeconds) * 1000 { over = true }
        } else {
            overSoftLimitSince = 0
        }
        if over {
            server.log.warning("Client \(describe()) scheduled to be closed ASAP for overcoming of output buffer limits.")
        }
        return over
    }

    /// Whether the client has been idle longer than `timeout`.
    func idle(now: Int64) -> Bool {
        refreshSettings()
        return settings.timeout > 0 && blockedOn == nil && now - lastInteraction > Int64(settings.timeout) * 1000
    }

    /// From the owner's cron: runs the commands a CLIENT PAUSE held once it is over. True when it did.
    func resumeIfUnpaused() -> Bool {
        guard awaitingUnpause, !server.isPaused else { return false }
        awaitingUnpause = false
        processInput()
        return true
    }

    /// One line of CLIENT LIST / CLIENT INFO, in Redis 7.0's fields and order (on the owner's thread).
    func clientInfoLine(now: Int64) -> String {
        var flags = !server.monitors.isEmpty && server.monitors.contains(self) ? "O" : ""
        if !subscriptions.isEmpty { flags += "P" }
        if transaction.isOpen { flags += "x" }
        if closeAfterReply { flags += "c" }
        if noEvict { flags += "e" }
        if flags.isEmpty { flags = "N" }
        let nameText = name.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let cmd = lastCommand?.name ?? "NULL"
        let s = subscriptions
        return "id=\(id) addr=\(peer) laddr=\(localAddress) fd=\(fd) name=\(nameText) age=\((now - createdAt) / 1000) idle=\((now - lastInteraction) / 1000) "
            + "flags=\(flags) db=\(databaseIndex) sub=\(s.channels.count) psub=\(s.patterns.count) ssub=\(s.shardChannels.count) "
            + "multi=\(transaction.isOpen ? transaction.queued.count : -1) qbuf=\(input.count) qbuf-free=\(input.capacity - input.count) "
            + "argv-mem=0 multi-mem=0 rbs=\(output.capacity) rbp=\(output.count) obl=\(output.count + outputInFlight) oll=0 omem=0 "
            + "tot-mem=\(input.capacity + output.capacity) events=r\(output.isEmpty ? "" : "w") cmd=\(cmd) user=default redir=-1 resp=\(reply.resp3 ? 3 : 2)"
            + (libraryName.isEmpty && libraryVersion.isEmpty ? "" : " lib-name=\(libraryName) lib-ver=\(libraryVersion)")
    }

    /// The local end, "ip:port".
    var localAddress: String { socketAddress(fd, peer: false) }

    func describe() -> String {
        "id=\(id) addr=\(peer) fd=\(fd) name=\(name.map { String(decoding: $0, as: UTF8.self) } ?? "") db=\(databaseIndex) qbuf=\(input.count) obl=\(output.count)"
    }

    private func preview() -> String {
        String(decoding: input.readable.prefix(32), as: UTF8.self).debugDescription
    }

    private func refreshSettings() {
        guard settings.version != server.settingsVersion else { return }
        settings = server.connectionSettings
        parser.limits = settings.limits
    }
}

/// The settings a connection consults, copied from the server's config when it changes (one atomic load
/// per read instead of a lock per command).
struct ConnectionSettings {
    let version: Int
    let requirePass: [UInt8]
    let limits: ProtocolLimits
    let queryBufferLimit: Int
    let outputLimit: OutputBufferLimit
    let pubsubOutputLimit: OutputBufferLimit
    let timeout: Int
    // Read at accept time.
    let protectedMode: Bool
    let maxClients: Int
    let tcpKeepalive: Int

    init(_ c: Config, version: Int) {
        self.version = version
        requirePass = Array(c.requirePass.utf8)
        var l = ProtocolLimits()
        l.maxBulkLength = c.protoMaxBulkLen
        l.inlineMax = c.protoInlineMaxSize
        limits = l
        queryBufferLimit = c.clientQueryBufferLimit
        outputLimit = c.outputBufferLimit
        pubsubOutputLimit = c.pubsubOutputBufferLimit
        timeout = c.timeout
        protectedMode = c.protectedMode
        maxClients = c.maxClients
        tcpKeepalive = c.tcpKeepalive
    }
}

private func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var d: UInt8 = 0
    for i in 0..<a.count { d |= a[i] ^ b[i] }
    return d == 0
}
