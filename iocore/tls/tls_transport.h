// TlsTransport: where an SSLNetVConnection's ciphertext goes when it is not its socket.
//
// By default a TLS connection reads and writes its own socket. Given a TlsTransport (at
// SSLNetVConnection::Adopt), every byte of the handshake and of the TLS data path moves through
// it instead, so that the whole driver -- hooks, certificate selection, ClientHello recording,
// the data path -- runs over memory, byte by byte if the transport says so. The socket then only
// gives the connection its place in the net thread's epoll set; a blind tunnel's plain data path
// still uses it.
//
// Readiness works as with a socket under edge-triggered epoll: a transport that answers
// kWouldBlock leaves the side untriggered, and whoever later makes bytes or room available
// reports it on the connection's thread with UnixNetVConnection::OnEpollEvent (EPOLLIN,
// EPOLLOUT), exactly as epoll would.
//
// BioPairTransport is the in-memory implementation: one end of a BoringSSL BIO pair, whose
// other end a client SSL object uses.
//
//   BIO* client_end; BIO* server_end;
//   BIO_new_bio_pair(&client_end, 1, &server_end, 1);  // 1-byte buffers: blocks at every byte
//   auto transport = std::make_unique<BioPairTransport>(bssl::UniquePtr<BIO>(server_end));
//   SSLNetVConnection::Adopt(fd, nh, local, remote, config, std::move(transport));

#ifndef TOLLGATE_IOCORE_TLS_TLS_TRANSPORT_H_
#define TOLLGATE_IOCORE_TLS_TLS_TRANSPORT_H_

#include <openssl/bio.h>

#include <cstddef>
#include <cstdint>

namespace tollgate {

class TlsTransport {
 public:
  // The outcome of one Recv or Send.
  struct Io {
    enum class Status : uint8_t {
      kOk,  // |bytes| > 0 moved
      kWouldBlock,  // nothing moved; readiness comes later (see above)
      kEof,  // Recv only: the peer will send nothing more
      kError,  // |error| holds an errno value
    };
    Status status = Status::kOk;
    size_t bytes = 0;
    int error = 0;
  };

  virtual ~TlsTransport() = default;

  // Recv moves up to |len| (> 0) bytes into |out|. Own thread of the connection.
  virtual Io Recv(char* out, size_t len) = 0;
  // Send moves up to |len| (> 0) bytes from |in|; |more| says that more bytes follow at once
  // (the socket's MSG_MORE). Own thread of the connection.
  virtual Io Send(const char* in, size_t len, bool more) = 0;
};

// BioPairTransport moves bytes through one end of a BIO pair (BIO_new_bio_pair). Recv returns
// kWouldBlock while the pair holds nothing from the other side and that side has not called
// BIO_shutdown_wr, kEof once it has and everything is read. Send returns kWouldBlock while the
// pair's buffer toward the other side is full, and kError (EPIPE) once the other side is freed.
// On destruction it calls BIO_shutdown_wr on its end, so the other side reads what was sent and
// then EOF, the way a peer sees a closed socket; bytes in flight survive as long as someone
// still holds a reference to this end.
//
// A BIO pair is not thread-safe: both ends must be used on the connection's thread.
class BioPairTransport final : public TlsTransport {
 public:
  explicit BioPairTransport(bssl::UniquePtr<BIO> end);
  ~BioPairTransport() override;

  Io Recv(char* out, size_t len) override;
  Io Send(const char* in, size_t len, bool more) override;

 private:
  bssl::UniquePtr<BIO> end_;
};

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_TLS_TLS_TRANSPORT_H_
