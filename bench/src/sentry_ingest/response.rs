//! The load generator's HTTP/1.1 response reader: just enough to know a response's status,
//! whether the connection stays open, and where the next response starts (RFC 9112 framing:
//! content-length, chunked, or until close).

use std::io;

use bytes::{Buf, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// What the load generator needs from a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ResponseHead {
    pub(super) status: u16,
    pub(super) keep_alive: bool,
}

/// How a response body is delimited (RFC 9112 §6.3).
enum BodyFraming {
    Length(usize),
    Chunked,
    UntilClose,
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Reads more of the connection into `buffer`; the end of the stream is an error here.
async fn fill(stream: &mut TcpStream, buffer: &mut BytesMut) -> io::Result<()> {
    if buffer.capacity() - buffer.len() < 1024 {
        buffer.reserve(4096);
    }
    match stream.read_buf(buffer).await? {
        0 => Err(io::ErrorKind::UnexpectedEof.into()),
        _ => Ok(()),
    }
}

/// Reads one whole response (head and body) from the connection, leaving anything after it in
/// `buffer`.
pub(super) async fn read_response(
    stream: &mut TcpStream,
    buffer: &mut BytesMut,
) -> io::Result<ResponseHead> {
    let (head, framing, head_len) = loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(buffer).map_err(|e| invalid(e.to_string()))? {
            httparse::Status::Complete(head_len) => {
                let status = response.code.unwrap_or_default();
                let mut keep_alive = response.version == Some(1);
                let mut framing = BodyFraming::UntilClose;
                for header in response.headers.iter() {
                    let value = std::str::from_utf8(header.value).unwrap_or_default();
                    if header.name.eq_ignore_ascii_case("content-length") {
                        let length = value
                            .trim()
                            .parse()
                            .map_err(|_| invalid("bad content-length"))?;
                        framing = BodyFraming::Length(length);
                    } else if header.name.eq_ignore_ascii_case("transfer-encoding")
                        && value.to_ascii_lowercase().contains("chunked")
                    {
                        framing = BodyFraming::Chunked;
                        break;
                    } else if header.name.eq_ignore_ascii_case("connection") {
                        let value = value.to_ascii_lowercase();
                        if value.contains("close") {
                            keep_alive = false;
                        } else if value.contains("keep-alive") {
                            keep_alive = true;
                        }
                    }
                }
                break (ResponseHead { status, keep_alive }, framing, head_len);
            }
            httparse::Status::Partial => fill(stream, buffer).await?,
        }
    };
    buffer.advance(head_len);
    match framing {
        BodyFraming::Length(length) => {
            while buffer.len() < length {
                fill(stream, buffer).await?;
            }
            buffer.advance(length);
            Ok(head)
        }
        BodyFraming::Chunked => {
            skip_chunked_body(stream, buffer).await?;
            Ok(head)
        }
        BodyFraming::UntilClose => {
            while stream.read_buf(buffer).await? > 0 {
                buffer.clear();
            }
            Ok(ResponseHead {
                keep_alive: false,
                ..head
            })
        }
    }
}

/// Reads one CRLF-terminated line, returning it without the CRLF.
async fn read_line(stream: &mut TcpStream, buffer: &mut BytesMut) -> io::Result<BytesMut> {
    loop {
        if let Some(end) = buffer.windows(2).position(|w| w == b"\r\n") {
            let line = buffer.split_to(end);
            buffer.advance(2);
            return Ok(line);
        }
        if buffer.len() > 64 * 1024 {
            return Err(invalid("chunk line too long"));
        }
        fill(stream, buffer).await?;
    }
}

async fn skip_chunked_body(stream: &mut TcpStream, buffer: &mut BytesMut) -> io::Result<()> {
    loop {
        let line = read_line(stream, buffer).await?;
        let size = std::str::from_utf8(&line)
            .ok()
            .and_then(|l| l.split(';').next())
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .ok_or_else(|| invalid("bad chunk size"))?;
        if size == 0 {
            // Trailer fields, then the empty line that ends the message.
            while !read_line(stream, buffer).await?.is_empty() {}
            return Ok(());
        }
        while buffer.len() < size + 2 {
            fill(stream, buffer).await?;
        }
        buffer.advance(size + 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    /// Serves `raw` as the answer to one connection, then reads back every response the load
    /// generator's parser finds in it.
    async fn parse_all(raw: &'static [u8]) -> Vec<io::Result<ResponseHead>> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            // Byte by byte, so every partial-read path is taken.
            for byte in raw {
                socket.write_all(std::slice::from_ref(byte)).await.unwrap();
                socket.flush().await.unwrap();
            }
        });
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut buffer = BytesMut::new();
        let mut heads = Vec::new();
        loop {
            let head = read_response(&mut stream, &mut buffer).await;
            let stop = !matches!(&head, Ok(h) if h.keep_alive);
            heads.push(head);
            if stop {
                break;
            }
        }
        server.await.unwrap();
        heads
    }

    #[tokio::test]
    async fn responses_are_framed_by_length_chunks_or_close() {
        let heads = parse_all(
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n{\"a\"}\
              HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\n\r\n\
              3;x=y\r\nabc\r\n2\r\n\r\n\r\n0\r\nTrailer: 1\r\n\r\n\
              HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nbody until close",
        )
        .await;
        let heads: Vec<ResponseHead> = heads.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            heads,
            [
                ResponseHead {
                    status: 200,
                    keep_alive: true
                },
                ResponseHead {
                    status: 429,
                    keep_alive: true
                },
                ResponseHead {
                    status: 200,
                    keep_alive: false
                },
            ]
        );
    }

    #[tokio::test]
    async fn a_truncated_response_is_an_error() {
        let heads = parse_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort").await;
        assert_eq!(heads.len(), 1);
        assert_eq!(
            heads[0].as_ref().unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }
}
