// TLS contexts for both sides (fallbench/transport/tls.hpp): one place that knows which OpenSSL
// settings the project uses.

#include "fallbench/transport/tls.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <memory>
#include <openssl/ssl.h>
#include <unistd.h>

namespace fallbench::transport {

namespace ssl = boost::asio::ssl;

namespace {

// The most specific reason OpenSSL queued for the last failure, then the queue cleared.
std::string openssl_reason(boost::system::error_code const& ec) {
  unsigned long const code = ERR_peek_last_error();
  std::string reason;
  if (code != 0) {
    if (char const* r = ERR_reason_error_string(code)) reason = r;
  }
  ERR_clear_error();
  if (reason.empty()) reason = tls_reason(ec);
  return reason;
}

// A file that cannot be opened at all: the system's reason (OpenSSL would only say "system lib").
void check_readable(std::string const& what, std::string const& file) {
  std::ifstream in(file);
  if (!in) throw tls_config_error(what + " '" + file + "': " + std::strerror(errno));
}

std::shared_ptr<ssl::context> base_context(ssl::context::method method) {
  auto ctx = std::make_shared<ssl::context>(method);
  // TLS 1.2 and 1.3 (what browsers and Node offer); no compression; renegotiation off.
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression);
  SSL_CTX_set_options(ctx->native_handle(), SSL_OP_NO_RENEGOTIATION);
  return ctx;
}

// Owners for the OpenSSL objects of make_throwaway_pki.
struct pkey_free {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct x509_free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
struct bio_free {
  void operator()(BIO* b) const noexcept { BIO_free_all(b); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;

[[noreturn]] void pki_failed(std::string const& what) {
  throw tls_config_error("throwaway PKI: " + what + ": " + openssl_reason({}));
}

pkey_ptr p256_key() {
  pkey_ptr k(EVP_EC_gen("P-256"));
  if (!k) pki_failed("generating a P-256 key");
  return k;
}

void add_extension(X509* cert, X509* issuer, int nid, char const* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) pki_failed(std::string("extension ") + OBJ_nid2sn(nid));
  bool const added = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  if (!added) pki_failed(std::string("extension ") + OBJ_nid2sn(nid));
}

// A certificate for `key` named `common_name`, signed by `issuer_key` (issuer null: self-signed).
x509_ptr certificate(EVP_PKEY* key, std::string const& common_name, X509* issuer, EVP_PKEY* issuer_key,
                     std::initializer_list<std::pair<int, char const*>> extensions) {
  x509_ptr x(X509_new());
  if (!x) pki_failed("X509_new");
  // A random 64-bit serial: two runs' certificates never share one (browsers refuse a reused serial).
  std::unique_ptr<BIGNUM, decltype(&BN_free)> serial(BN_new(), BN_free);
  if (!serial || BN_rand(serial.get(), 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(x.get())) == nullptr)
    pki_failed("serial number");
  X509_NAME* name = X509_get_subject_name(x.get());
  if (X509_set_version(x.get(), 2) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<unsigned char const*>(common_name.c_str()),
                                 -1, -1, 0) != 1 ||
      X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name) != 1 ||
      // An hour back: a clock a little behind the one that made it still accepts it.
      X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(x.get()), 2 * 86400) == nullptr || X509_set_pubkey(x.get(), key) != 1)
    pki_failed("certificate fields of " + common_name);
  for (auto const& [nid, value] : extensions) add_extension(x.get(), issuer ? issuer : x.get(), nid, value);
  if (X509_sign(x.get(), issuer_key, EVP_sha256()) == 0) pki_failed("signing " + common_name);
  return x;
}

// PEM to `path`, created with `mode` (a private key: 0600 from the start, never world-readable).
void write_pem(std::string const& path, mode_t mode, std::initializer_list<X509*> certs, EVP_PKEY* key = nullptr) {
  int const fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw tls_config_error("throwaway PKI: " + path + ": " + std::strerror(errno));
  std::unique_ptr<BIO, bio_free> out(BIO_new_fd(fd, BIO_CLOSE));
  if (!out) {
    ::close(fd);
    pki_failed(path);
  }
  for (X509* c : certs)
    if (PEM_write_bio_X509(out.get(), c) != 1) pki_failed("writing " + path);
  if (key && PEM_write_bio_PrivateKey(out.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    pki_failed("writing " + path);
  if (BIO_flush(out.get()) != 1) pki_failed("writing " + path);
}

}  // namespace

throwaway_pki make_throwaway_pki(std::string const& dir) {
  ERR_clear_error();
  auto const ca_key = p256_key();
  auto const ca = certificate(ca_key.get(), "fallbench throwaway CA", nullptr, ca_key.get(),
                              {{NID_basic_constraints, "critical,CA:TRUE"},
                               {NID_key_usage, "critical,keyCertSign,cRLSign"},
                               {NID_subject_key_identifier, "hash"}});
  auto const key = p256_key();
  auto const leaf = certificate(key.get(), "127.0.0.1", ca.get(), ca_key.get(),
                                {{NID_basic_constraints, "CA:FALSE"},
                                 {NID_key_usage, "critical,digitalSignature"},
                                 {NID_ext_key_usage, "serverAuth"},
                                 {NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost"},
                                 {NID_authority_key_identifier, "keyid"}});
  throwaway_pki pki{dir + "/ca.pem", dir + "/server.pem", dir + "/server-key.pem"};
  write_pem(pki.ca_file, 0644, {ca.get()});
  write_pem(pki.cert_chain_file, 0644, {leaf.get(), ca.get()});
  write_pem(pki.key_file, 0600, {}, key.get());
  return pki;
}

std::shared_ptr<ssl::context> make_server_tls_context(std::string const& cert_chain_file, std::string const& key_file) {
  check_readable("certificate", cert_chain_file);
  check_readable("private key", key_file);
  auto ctx = base_context(ssl::context::tls_server);
  boost::system::error_code ec;
  ERR_clear_error();
  ctx->use_certificate_chain_file(cert_chain_file, ec);
  if (ec) throw tls_config_error("certificate '" + cert_chain_file + "': " + openssl_reason(ec));
  ctx->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) throw tls_config_error("private key '" + key_file + "': " + openssl_reason(ec));
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    throw tls_config_error("private key '" + key_file + "' does not match certificate '" + cert_chain_file +
                           "': " + openssl_reason({}));
  return ctx;
}

std::shared_ptr<ssl::context> make_client_tls_context(bool verify, std::string const& ca_file) {
  if (verify && !ca_file.empty()) check_readable("CA file", ca_file);
  auto ctx = base_context(ssl::context::tls_client);
  boost::system::error_code ec;
  ERR_clear_error();
  if (verify) {
    if (ca_file.empty()) {
      ctx->set_default_verify_paths(ec);
      if (ec) throw tls_config_error("the system's certificate store: " + openssl_reason(ec));
    } else {
      ctx->load_verify_file(ca_file, ec);
      if (ec) throw tls_config_error("CA file '" + ca_file + "': " + openssl_reason(ec));
    }
    ctx->set_verify_mode(ssl::verify_peer);
  } else {
    ctx->set_verify_mode(ssl::verify_none);
  }
  return ctx;
}

std::string tls_reason(boost::system::error_code const& ec) {
  if (ec.category() == boost::asio::error::get_ssl_category()) {
    if (char const* r = ERR_reason_error_string(static_cast<unsigned long>(ec.value()))) return r;
  }
  if (ec == boost::asio::ssl::error::stream_truncated) return "the peer closed the connection during the handshake";
  return ec.message();
}

}  // namespace fallbench::transport
