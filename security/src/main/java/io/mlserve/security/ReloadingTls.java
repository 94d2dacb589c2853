package io.mlserve.security;

import io.grpc.netty.GrpcSslContexts;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TLS for every port from PEM files, reloaded without a restart: the server's certificate chain and key
 * ({@code --tls-cert}, {@code --tls-key}) and, for mutual TLS, the CA that client certificates must chain to
 * ({@code --tls-client-ca}; clients without a valid certificate are refused in the handshake). Every few seconds the
 * files' modification times are compared; when they change they are read again and new handshakes use them
 * (connections already open keep theirs). A file that does not parse is logged and the previous material stays.
 */
public final class ReloadingTls implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ReloadingTls.class);
    private final Path cert;
    private final Path key;
    private final Path clientCa;
    private final KeyManager keyManager = new KeyManager();
    private final TrustManager trustManager;
    private final ScheduledExecutorService watcher;
    private volatile String stamp;

    public ReloadingTls(Path cert, Path key, Path clientCa, long checkMillis) throws IOException {
        this.cert = cert;
        this.key = key;
        this.clientCa = clientCa;
        this.trustManager = clientCa == null ? null : new TrustManager();
        load();
        this.watcher = Watchers.daemon("mlserve-tls-reload");
        watcher.scheduleWithFixedDelay(this::reloadIfChanged, checkMillis, checkMillis, TimeUnit.MILLISECONDS);
    }

    private String stamp() throws IOException {
        StringBuilder sb = new StringBuilder();
        for (Path p : clientCa == null ? List.of(cert, key) : List.of(cert, key, clientCa)) {
            sb.append(Files.getLastModifiedTime(p).toMillis()).append(':').append(Files.size(p)).append(';');
        }
        return sb.toString();
    }

    private void load() throws IOException {
        String now = stamp();
        List<X509Certificate> chain = Pem.certificates(cert);
        PrivateKey k = Pem.privateKey(key);
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("server", k, new char[0], chain.toArray(new X509Certificate[0]));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, new char[0]);
            X509ExtendedKeyManager next = (X509ExtendedKeyManager) kmf.getKeyManagers()[0];
            X509ExtendedTrustManager nextTrust = null;
            if (clientCa != null) {
                KeyStore ts = KeyStore.getInstance("PKCS12");
                ts.load(null, null);
                int i = 0;
                for (X509Certificate ca : Pem.certificates(clientCa)) {
                    ts.setCertificateEntry("ca" + i++, ca);
                }
                TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(ts);
                nextTrust = (X509ExtendedTrustManager) tmf.getTrustManagers()[0];
            }
            keyManager.delegate = next;
            if (trustManager != null) {
                trustManager.delegate = nextTrust;
            }
            stamp = now;
            LOG.info("TLS: serving certificate {} (valid until {}){}", chain.get(0).getSubjectX500Principal(),
                    chain.get(0).getNotAfter().toInstant(), clientCa == null ? ""
                            : "; client certificates required, signed by " + clientCa);
        } catch (GeneralSecurityException e) {
            throw new IOException("TLS material from " + cert + " / " + key + " unusable: " + e.getMessage(), e);
        }
    }

    private void reloadIfChanged() {
        try {
            if (!stamp().equals(stamp)) {
                load();
            }
        } catch (IOException | RuntimeException e) {
            LOG.error("TLS: new certificate files not used, the previous ones stay: {}", e.getMessage());
        }
    }

    /** Server context for gRPC (HTTP/2 via ALPN). */
    public SslContext grpc() throws IOException {
        return build(GrpcSslContexts.configure(SslContextBuilder.forServer(keyManager), SslProvider.JDK));
    }

    /** Server context for the HTTP/1.1 ports. */
    public SslContext http() throws IOException {
        return build(SslContextBuilder.forServer(keyManager).sslProvider(SslProvider.JDK));
    }

    private SslContext build(SslContextBuilder b) throws IOException {
        if (trustManager != null) {
            b.trustManager(trustManager).clientAuth(ClientAuth.REQUIRE);
        }
        return b.build();
    }

    @Override
    public void close() {
        watcher.shutdownNow();
    }

    /** Delegates to the material loaded last. */
    private static final class KeyManager extends X509ExtendedKeyManager {
        volatile X509ExtendedKeyManager delegate;

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return delegate.getClientAliases(keyType, issuers);
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return delegate.chooseClientAlias(keyType, issuers, socket);
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return delegate.getServerAliases(keyType, issuers);
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return delegate.chooseServerAlias(keyType, issuers, socket);
        }

        @Override
        public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
            return delegate.chooseEngineServerAlias(keyType, issuers, engine);
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return delegate.getCertificateChain(alias);
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return delegate.getPrivateKey(alias);
        }
    }

    /** Delegates to the CA loaded last. */
    private static final class TrustManager extends X509ExtendedTrustManager {
        volatile X509ExtendedTrustManager delegate;

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            delegate.checkClientTrusted(chain, authType, socket);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            delegate.checkServerTrusted(chain, authType, socket);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            delegate.checkClientTrusted(chain, authType, engine);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            delegate.checkServerTrusted(chain, authType, engine);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            delegate.checkClientTrusted(chain, authType);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            delegate.checkServerTrusted(chain, authType);
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return delegate.getAcceptedIssuers();
        }
    }
}
