import Foundation

/// Requests of the REST API waiting for the node's control thread, which takes them between its
/// other duties (heartbeats, snapshots) and answers each exactly once.
///
/// Bounded: at most ``capacity`` requests wait; beyond that (or after the node stopped) a request is
/// answered at once with 503. A request not answered within its timeout is answered with 504 (the
/// control thread may still carry it out; its late answer is dropped).
final class ControlMailbox: @unchecked Sendable {
    struct Job {
        let command: NodeCommand
        let reply: ControlReply
    }

    /// Requests waiting at most.
    static let capacity = 64
    private let lock = NSLock()
    private var jobs: [Job] = []
    private var closedReason: String?
    private var wake: (@Sendable () -> Void)?

    /// Set by the control thread that serves the mailbox: called after each request is queued.
    func attach(wake: @escaping @Sendable () -> Void) {
        lock.lock()
        self.wake = wake
        closedReason = nil
        lock.unlock()
    }

    /// Queues `command` and waits for the control thread's answer (or the timeout).
    func submit(_ command: NodeCommand, timeoutMs: Int) async -> Result<NodeReply, ApiFailure> {
        let reply = ControlReply()
        let (refusal, wake) = enqueue(Job(command: command, reply: reply))
        if let refusal { return .failure(refusal) }
        wake?()
        let timer = Task {
            try? await Task.sleep(for: .milliseconds(timeoutMs))
            if !Task.isCancelled {
                reply.send(.failure(ApiFailure(status: 504, message: "the node did not answer within \(timeoutMs) ms")))
            }
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { reply.attach($0) }
    }

    /// Queues `job` unless the mailbox is full or closed; returns the refusal, or the wake call.
    private func enqueue(_ job: Job) -> (ApiFailure?, (@Sendable () -> Void)?) {
        lock.lock()
        defer { lock.unlock() }
        if let closedReason { return (ApiFailure(status: 503, message: closedReason), nil) }
        guard let wake else { return (ApiFailure(status: 503, message: "the node is starting; try again shortly"), nil) }
        guard jobs.count < ControlMailbox.capacity else {
            return (ApiFailure(status: 503, message: "\(ControlMailbox.capacity) requests are already waiting for the node; try again shortly"), nil)
        }
        jobs.append(job)
        return (nil, wake)
    }

    /// The requests queued so far, oldest first (control thread).
    func take() -> [Job] {
        lock.lock()
        defer { lock.unlock() }
        defer { jobs.removeAll() }
        return jobs
    }

    /// The control thread stops serving: waiting and later requests get 503 with `reason`.
    func close(reason: String) {
        lock.lock()
        closedReason = reason
        wake = nil
        let left = jobs
        jobs.removeAll()
        lock.unlock()
        for job in left { job.reply.send(.failure(ApiFailure(status: 503, message: reason))) }
    }
}

/// A one-shot answer: the first `send` wins, later ones are dropped.
final class ControlReply: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<NodeReply, ApiFailure>?
    private var continuation: CheckedContinuation<Result<NodeReply, ApiFailure>, Never>?
    private var sent = false

    func send(_ value: Result<NodeReply, ApiFailure>) {
        lock.lock()
        guard !sent else {
            lock.unlock()
            return
        }
        sent = true
        if let continuation {
            self.continuation = nil
            lock.unlock()
            continuation.resume(returning: value)
        } else {
            result = value
            lock.unlock()
        }
    }

    fileprivate func attach(_ continuation: CheckedContinuation<Result<NodeReply, ApiFailure>, Never>) {
        lock.lock()
        if let result {
            self.result = nil
            lock.unlock()
            continuation.resume(returning: result)
        } else {
            self.continuation = continuation
            lock.unlock()
        }
    }
}
