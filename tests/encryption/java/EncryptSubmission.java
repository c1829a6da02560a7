// Encrypts a filled-in submission as ODK Collect does when it finalises an encrypted form
// (EncryptionUtils), with the JDK's javax.crypto: the test suite's independent encryptor, so the
// server's decryption is never checked against itself.
// Usage: java EncryptSubmission jobs.txt outdir
// jobs.txt holds one or more jobs separated by lines "---", each of UTF-8 lines "key=value":
// out (the job's output folder, else outdir), publicKey (base64 DER SubjectPublicKeyInfo, as in
// the form's base64RsaPublicKey), formId, version (left out when the form has none), instanceID,
// submission (path of the plaintext submission.xml) and media (a path, once per file, in the
// order Collect would list them). The output folder receives submission.xml (the plaintext
// manifest), submission.xml.enc and one NAME.enc per media file.
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;

import javax.crypto.Cipher;
import javax.crypto.CipherOutputStream;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.OAEPParameterSpec;
import javax.crypto.spec.PSource;
import javax.crypto.spec.SecretKeySpec;

public class EncryptSubmission {
    static final String ENCRYPTED_NS = "http://www.opendatakit.org/xforms/encrypted";
    static final String ORX_NS = "http://openrosa.org/xforms";

    public static void main(String[] args) throws Exception {
        Path out = Paths.get(args[1]);
        List<String> job = new ArrayList<>();
        for (String line : Files.readAllLines(Paths.get(args[0]), StandardCharsets.UTF_8)) {
            if (line.equals("---")) {
                if (!job.isEmpty()) seal(job, out);
                job.clear();
            } else if (!line.isEmpty()) {
                job.add(line);
            }
        }
        if (!job.isEmpty()) seal(job, out);
    }

    // One submission: its "key=value" lines; "out" (optional) overrides the output folder.
    static void seal(List<String> lines, Path out) throws Exception {
        String publicKey = null, formId = null, version = null, instanceId = null;
        Path submission = null;
        List<Path> media = new ArrayList<>();
        for (String line : lines) {
            int eq = line.indexOf('=');
            String key = line.substring(0, eq), value = line.substring(eq + 1);
            switch (key) {
                case "publicKey": publicKey = value; break;
                case "formId": formId = value; break;
                case "version": version = value; break;
                case "instanceID": instanceId = value; break;
                case "submission": submission = Paths.get(value); break;
                case "media": media.add(Paths.get(value)); break;
                case "out": out = Paths.get(value); break;
                default: throw new IllegalArgumentException("unknown key " + key);
            }
        }
        Files.createDirectories(out);
        PublicKey rsa = KeyFactory.getInstance("RSA")
                .generatePublic(new X509EncodedKeySpec(Base64.getDecoder().decode(publicKey)));

        // A fresh 256-bit AES key per submission.
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);

        // The IV seed: MD5 of the instanceID's UTF-8 bytes, then the key.
        MessageDigest seedDigest = MessageDigest.getInstance("MD5");
        seedDigest.update(instanceId.getBytes(StandardCharsets.UTF_8));
        seedDigest.update(key);
        byte[] iv = Arrays.copyOf(seedDigest.digest(), 16);

        String wrappedKey = Base64.getEncoder().encodeToString(rsaOaep(rsa, key));

        StringBuilder signed = new StringBuilder();
        signed.append(formId).append('\n');
        if (version != null) signed.append(version).append('\n');
        signed.append(wrappedKey).append('\n');
        signed.append(instanceId).append('\n');

        // Media first, in the listed order, then submission.xml last; before each file the
        // running IV gets byte [k % 16] incremented (k counts files from 0).
        int counter = 0;
        List<String> encryptedNames = new ArrayList<>();
        for (Path file : media) {
            String name = file.getFileName().toString();
            signed.append(name).append("::").append(md5Hex(file)).append('\n');
            ++iv[counter % 16];
            ++counter;
            encryptFile(file, out.resolve(name + ".enc"), key, iv);
            encryptedNames.add(name + ".enc");
        }
        signed.append("submission.xml::").append(md5Hex(submission)).append('\n');
        ++iv[counter % 16];
        ++counter;
        encryptFile(submission, out.resolve("submission.xml.enc"), key, iv);

        byte[] signatureDigest = MessageDigest.getInstance("MD5")
                .digest(signed.toString().getBytes(StandardCharsets.UTF_8));
        String signature = Base64.getEncoder().encodeToString(rsaOaep(rsa, signatureDigest));

        // The manifest as Collect's kXML serializer writes it: no XML declaration, the default
        // namespace declared before the attributes, a newline after <orx:meta> and after each
        // <media>, one <media> element per file.
        StringBuilder xml = new StringBuilder();
        xml.append("<data xmlns=\"").append(ENCRYPTED_NS).append("\" id=\"").append(attr(formId)).append('"');
        if (version != null) xml.append(" version=\"").append(attr(version)).append('"');
        xml.append(" encrypted=\"yes\">");
        xml.append("<base64EncryptedKey>").append(wrappedKey).append("</base64EncryptedKey>");
        xml.append("<orx:meta xmlns:orx=\"").append(ORX_NS).append("\"><orx:instanceID>")
                .append(text(instanceId)).append("</orx:instanceID></orx:meta>\n");
        for (String name : encryptedNames) {
            xml.append("<media><file>").append(text(name)).append("</file></media>\n");
        }
        xml.append("<encryptedXmlFile>submission.xml.enc</encryptedXmlFile>");
        xml.append("<base64EncryptedElementSignature>").append(signature)
                .append("</base64EncryptedElementSignature></data>");
        Files.write(out.resolve("submission.xml"), xml.toString().getBytes(StandardCharsets.UTF_8));
    }

    // Collect asks for "RSA/NONE/OAEPWithSHA256AndMGF1Padding" from Android's providers, which
    // use SHA-256 for MGF1 as well; the JDK's provider would default MGF1 to SHA-1, so say it.
    static byte[] rsaOaep(PublicKey rsa, byte[] data) throws Exception {
        Cipher c = Cipher.getInstance("RSA/ECB/OAEPWithSHA-256AndMGF1Padding");
        c.init(Cipher.ENCRYPT_MODE, rsa, new OAEPParameterSpec(
                "SHA-256", "MGF1", MGF1ParameterSpec.SHA256, PSource.PSpecified.DEFAULT));
        return c.doFinal(data);
    }

    // Streams the file through AES/CFB/PKCS5Padding, so a large video never sits whole in memory.
    static void encryptFile(Path in, Path out, byte[] key, byte[] iv) throws Exception {
        Cipher c = Cipher.getInstance("AES/CFB/PKCS5Padding");
        c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new IvParameterSpec(iv.clone()));
        try (InputStream fin = new FileInputStream(in.toFile());
             OutputStream fout = new CipherOutputStream(new FileOutputStream(out.toFile()), c)) {
            fin.transferTo(fout);
        }
    }

    static String md5Hex(Path file) throws Exception {
        MessageDigest md = MessageDigest.getInstance("MD5");
        try (InputStream fin = new FileInputStream(file.toFile())) {
            byte[] buffer = new byte[16 * 1024];
            for (int n; (n = fin.read(buffer)) != -1; ) md.update(buffer, 0, n);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    static String text(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }

    static String attr(String s) {
        return text(s).replace("\"", "&quot;");
    }
}
