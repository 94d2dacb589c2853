package io.mlserve.server;

import io.mlserve.server.inference.RequestLimits;
import java.nio.file.Path;

/**
 * Transport security, authentication and limits.
 *
 * @param tlsCert         PEM certificate chain for every port, or null for plaintext
 * @param tlsKey          its PKCS#8 PEM private key
 * @param tlsClientCa     PEM CA that client certificates must chain to (mutual TLS), or null
 * @param authTokens      the token file (sha256 of token, principal, roles), or null: no authentication
 * @param metricsOpen     with authentication, leave /metrics open to scrapers without a token
 * @param rateLimit       requests per second per principal, 0 = no limit
 * @param rateBurst       requests a principal may send at once
 * @param limits          rows, BYTES element length and decoded size per request
 * @param maxConcurrentCallsPerConnection gRPC calls one connection may have open at once
 * @param keepalivePermitSecs the shortest interval at which a client may ping; faster pings close the connection
 */
public record SecurityOptions(Path tlsCert, Path tlsKey, Path tlsClientCa, Path authTokens, boolean metricsOpen,
                              double rateLimit, int rateBurst, RequestLimits limits,
                              int maxConcurrentCallsPerConnection, int keepalivePermitSecs) {
    public SecurityOptions {
        if ((tlsCert == null) != (tlsKey == null)) {
            throw new IllegalArgumentException("--tls-cert and --tls-key go together");
        }
        if (tlsClientCa != null && tlsCert == null) {
            throw new IllegalArgumentException("--tls-client-ca needs --tls-cert and --tls-key");
        }
        if (rateLimit < 0 || (rateLimit > 0 && rateBurst < 1)) {
            throw new IllegalArgumentException("--rate-limit must be >= 0 and --rate-burst >= 1");
        }
        if (maxConcurrentCallsPerConnection < 1 || keepalivePermitSecs < 1) {
            throw new IllegalArgumentException("--max-concurrent-calls-per-connection and --keepalive-permit-secs "
                    + "must be at least 1");
        }
    }

    /** Plaintext, no authentication, default limits. */
    public static SecurityOptions defaults() {
        return new SecurityOptions(null, null, null, null, false, 0, 0, RequestLimits.DEFAULTS, 1000, 10);
    }

    public SecurityOptions withTls(Path cert, Path key, Path clientCa) {
        return new SecurityOptions(cert, key, clientCa, authTokens, metricsOpen, rateLimit, rateBurst, limits,
                maxConcurrentCallsPerConnection, keepalivePermitSecs);
    }

    public SecurityOptions withAuth(Path tokens, boolean openMetrics) {
        return new SecurityOptions(tlsCert, tlsKey, tlsClientCa, tokens, openMetrics, rateLimit, rateBurst, limits,
                maxConcurrentCallsPerConnection, keepalivePermitSecs);
    }

    public SecurityOptions withRateLimit(double rate, int burst) {
        return new SecurityOptions(tlsCert, tlsKey, tlsClientCa, authTokens, metricsOpen, rate, burst, limits,
                maxConcurrentCallsPerConnection, keepalivePermitSecs);
    }

    public SecurityOptions withLimits(RequestLimits l, int maxCallsPerConnection) {
        return new SecurityOptions(tlsCert, tlsKey, tlsClientCa, authTokens, metricsOpen, rateLimit, rateBurst, l,
                maxCallsPerConnection, keepalivePermitSecs);
    }
}
