// multipart/form-data bodies (RFC 7578): the parts between `--boundary` delimiters, each with its own
// header block. Only what the image endpoints need: the part's name, filename, content type and bytes.

import Foundation

/// One part of a multipart/form-data body.
struct MultipartPart: Sendable {
  var name: String?
  var filename: String?
  var contentType: String?
  var data: Data
}

enum Multipart {
  /// The boundary parameter of a `multipart/form-data; boundary=...` content type.
  static func boundary(contentType: String) -> String? {
    for parameter in contentType.split(separator: ";").dropFirst() {
      let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      if pair.count == 2, pair[0].lowercased() == "boundary" {
        let value = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        return (1...70).contains(value.utf8.count) ? value : nil
      }
    }
    return nil
  }

  /// The parts of `body`, or a reason the body is not well-formed multipart.
  static func parts(_ body: Data, boundary: String) -> Result<[MultipartPart], ServiceError> {
    func bad(_ why: String) -> Result<[MultipartPart], ServiceError> {
      .failure(ServiceError(.badRequest, "malformed multipart/form-data body: \(why)"))
    }
    let delimiter = Data(("--" + boundary).utf8)
    let separator = Data("\r\n\r\n".utf8)
    var parts: [MultipartPart] = []
    guard var cursor = body.range(of: delimiter)?.upperBound else { return bad("no boundary '\(boundary)'") }
    while true {
      // After a delimiter: "--" ends the body, CRLF starts a part.
      let rest = body[cursor...]
      if rest.starts(with: Data("--".utf8)) { return .success(parts) }
      guard rest.starts(with: Data("\r\n".utf8)) else { return bad("a boundary not followed by a line break") }
      let start = cursor + 2
      guard let headerEnd = body.range(of: separator, in: start..<body.endIndex) else {
        return bad("a part without the blank line after its headers")
      }
      guard let next = body.range(of: Data("\r\n".utf8) + delimiter, in: headerEnd.upperBound..<body.endIndex) else {
        return bad("the last part is not closed by the boundary (truncated upload?)")
      }
      let headers = String(decoding: body[start..<headerEnd.lowerBound], as: UTF8.self)
      var part = MultipartPart(data: Data(body[headerEnd.upperBound..<next.lowerBound]))
      for line in headers.components(separatedBy: "\r\n") {
        let kv = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard kv.count == 2 else { continue }
        switch kv[0].lowercased() {
        case "content-disposition":
          part.name = parameter("name", in: kv[1])
          part.filename = parameter("filename", in: kv[1])
        case "content-type": part.contentType = kv[1]
        default: break
        }
      }
      parts.append(part)
      cursor = next.upperBound
    }
  }

  /// A `key="value"` parameter of a header value.
  private static func parameter(_ key: String, in value: String) -> String? {
    for item in value.split(separator: ";").dropFirst() {
      let kv = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      if kv.count == 2, kv[0].lowercased() == key {
        return kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
      }
    }
    return nil
  }
}
