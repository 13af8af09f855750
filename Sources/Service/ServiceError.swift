import Attribution
import Hummingbird
import Imaging

/// An error answered to the client: a status, a message saying what to do, and extra headers.
public struct ServiceError: Error, CustomStringConvertible, Sendable {
  public var status: HTTPResponse.Status
  public var message: String
  public var headers: HTTPFields

  public init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
    self.status = status
    self.message = message
    self.headers = headers
  }

  public var description: String { "\(status.code) \(message)" }

  /// The answer to any error a route or the library can throw: typed library errors map onto the status
  /// the client's request deserves; anything else is the server's fault (500) and says so without detail.
  static func from(_ error: any Error) -> ServiceError {
    switch error {
    case let e as ServiceError: return e
    case is CancellationError:
      // The client left before its image was embedded; nobody reads this answer, but the metrics do.
      return ServiceError(
        HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request"), "the client closed the connection")
    case let e as ImageError: return ServiceError(.unprocessableContent, e.description)
    case let e as PackError:
      if case .extractorMismatch = e { return ServiceError(.conflict, e.description) }
      return ServiceError(.unprocessableContent, e.description)
    case let e as Explanation.Problem: return ServiceError(.conflict, e.description)
    case let e as GalleryError:
      switch e {
      case .unknownModel: return ServiceError(.notFound, e.description)
      case .invalidModelName, .nothingToEnroll, .cannotCalibrate, .dimensionMismatch:
        return ServiceError(.unprocessableContent, e.description)
      case .empty, .extractorMismatch: return ServiceError(.conflict, e.description)
      case .locked: return ServiceError(.serviceUnavailable, e.description, headers: [.retryAfter: "5"])
      default: return ServiceError(.internalServerError, e.description)
      }
    case let e as any HTTPResponseError:
      let message: String
      switch e.status {
      case .contentTooLarge: message = "the request body is larger than this server accepts"
      case .notFound: message = "no such endpoint; see /openapi.json"
      case .methodNotAllowed: message = "this endpoint does not take that method; see /openapi.json"
      default: message = e.status.reasonPhrase
      }
      return ServiceError(e.status, message)
    default:
      return ServiceError(.internalServerError, "internal error (\(type(of: error)))")
    }
  }
}
