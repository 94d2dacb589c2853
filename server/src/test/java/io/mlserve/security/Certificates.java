package io.mlserve.security;

import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/** A throwaway PKI for the TLS tests: EC P-256 keys, a CA, certificates it signs, written as PEM. */
final class Certificates {
    /** A key pair with its certificate, and the key that signed it. */
    record Issued(KeyPair keys, X509Certificate cert) {
        /** Writes {@code <base>.crt} (PEM certificate) and {@code <base>.key} (PKCS#8 PEM). */
        Issued write(Path dir, String base) throws Exception {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(base + ".crt"), pem("CERTIFICATE", cert.getEncoded()));
            Files.writeString(dir.resolve(base + ".key"), pem("PRIVATE KEY", keys.getPrivate().getEncoded()));
            return this;
        }
    }

    private static long serial = System.nanoTime();

    private Certificates() {
    }

    static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

    private static KeyPair keys() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    static Issued ca(String name) throws Exception {
        KeyPair k = keys();
        return new Issued(k, sign(new X500Name("CN=" + name), k, new X500Name("CN=" + name), k.getPrivate(), true));
    }

    /** A leaf certificate for {@code cn}, valid for localhost and 127.0.0.1, signed by {@code ca}. */
    static Issued leaf(String cn, Issued ca) throws Exception {
        KeyPair k = keys();
        X500Name issuer = new X500Name(ca.cert().getSubjectX500Principal().getName());
        return new Issued(k, sign(new X500Name("CN=" + cn), k, issuer, ca.keys().getPrivate(), false));
    }

    private static X509Certificate sign(X500Name subject, KeyPair k, X500Name issuer, PrivateKey signer, boolean ca)
            throws Exception {
        Instant now = Instant.now();
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuer, BigInteger.valueOf(serial++),
                Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(2))), subject,
                k.getPublic());
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
        if (!ca) {
            b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                new GeneralName(GeneralName.dNSName, "localhost"),
                new GeneralName(GeneralName.iPAddress, "127.0.0.1")}));
        }
        return new JcaX509CertificateConverter().getCertificate(b.build(
                new JcaContentSignerBuilder("SHA256withECDSA").build(signer)));
    }
}
