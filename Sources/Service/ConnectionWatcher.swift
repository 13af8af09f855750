// Tells a queued request whether its client is still there. Hummingbird allows remote half-closure, so
// a client that closes its side leaves the channel active; the close shows only as an `inputClosed`
// event (or, later, `channelInactive`), which this handler, one per connection, records.

import NIOCore
import Tensor

/// A pass-through channel handler that records when the client closed its side of the connection.
final class ConnectionWatcher: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
  typealias InboundIn = NIOAny
  private let closed = Locked(false)

  /// True once the client has closed the connection or its sending side.
  var isClosed: Bool { closed.current }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if let e = event as? ChannelEvent, e == .inputClosed { closed.current = true }
    context.fireUserInboundEventTriggered(event)
  }

  func channelInactive(context: ChannelHandlerContext) {
    closed.current = true
    context.fireChannelInactive()
  }
}
