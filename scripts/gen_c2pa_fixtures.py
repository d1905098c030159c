"""Writes the signed C2PA test images into Tests/WinnowImageTests/Fixtures (development tool).

    .venv/bin/python scripts/gen_c2pa_fixtures.py            (needs c2pa-python and cryptography:
                                                              .venv/bin/pip install -r scripts/requirements-c2pa.txt)
    .venv/bin/python scripts/gen_c2pa_fixtures.py --dump FILE...   (print the APP11/caBX/C2PA carriage and the
                                                              JUMBF box tree of files, no c2pa library needed)

The manifests are built and signed by the real C2PA SDK (c2pa-python, the Python binding of c2pa-rs), so the tests
read what the reference implementation writes. Each fixture is a 40x20 gradient made with Pillow, carrying a manifest
with a `c2pa.actions` assertion (c2pa.created, which the SDK requires first) and, for most, a training-and-mining
assertion (`cawg.training-mining`, or the older `c2pa.training-mining` in one file). Thumbnails are switched off to
keep the files small; the multi-segment JPEG instead carries a ~150 KB custom assertion, so that its manifest store
is split across several APP11 segments.

Signing: every run makes a fresh ES256 (P-256) chain with `cryptography`: a root CA and a leaf with digitalSignature,
emailProtection + the C2PA document-signing EKU, CA:false, SKI/AKI. No key is committed; the chain is not trusted by
anything but this script, and no timestamp authority is used (no network), so the signatures carry no timestamp.
The outputs are therefore not byte-for-byte reproducible (fresh keys, UUID labels, ECDSA nonces); what the tests
compare is in c2pa_expected.json, which this script writes from the SDK's own reading of each file (c2pa.Reader,
with the generated root as the only trust anchor).
"""

import datetime
import io
import json
import os
import struct
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "WinnowImageTests", "Fixtures")
W, H = 40, 20
TRAINING_LABELS = ("cawg.training-mining", "c2pa.training-mining")
MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
EXT = {"jpeg": "jpg", "png": "png", "webp": "webp"}
CAWG_KEYS = ("cawg.ai_training", "cawg.ai_generative_training", "cawg.data_mining", "cawg.ai_inference")
C2PA_KEYS = ("c2pa.ai_training", "c2pa.ai_generative_training", "c2pa.data_mining", "c2pa.ai_inference")
C2PA_DOCUMENT_SIGNING_EKU = "1.3.6.1.4.1.62558.2.1"


# --- certificates --------------------------------------------------------------------------------------------------

def make_chain():
    """A fresh ES256 root CA and leaf: (PEM chain leaf+root, leaf PKCS#8 key PEM, root PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Winnow Test"),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def usage(sign=False, ca=False):
        return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                             encipher_only=False, decipher_only=False)

    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (x509.CertificateBuilder()
            .subject_name(name("Winnow Test C2PA Root CA")).issuer_name(name("Winnow Test C2PA Root CA"))
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage(ca=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(name("Winnow Test C2PA Signer")).issuer_name(root.subject)
            .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(sign=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION,
                                                  ObjectIdentifier(C2PA_DOCUMENT_SIGNING_EKU)]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    root_pem = root.public_bytes(pem)
    key_pem = leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return leaf.public_bytes(pem) + root_pem, key_pem, root_pem


# --- source pictures -----------------------------------------------------------------------------------------------

def source_image(fmt):
    """A 40x20 RGB gradient encoded as `fmt` by Pillow."""
    from PIL import Image
    img = Image.new("RGB", (W, H))
    img.putdata([(x * 6, y * 12, 255 - x * 3 - y * 4) for y in range(H) for x in range(W)])
    buf = io.BytesIO()
    if fmt == "jpeg":
        img.save(buf, "JPEG", quality=85)
    elif fmt == "png":
        img.save(buf, "PNG", optimize=True)
    else:
        img.save(buf, "WEBP", quality=80)
    return buf.getvalue()


# --- manifests -----------------------------------------------------------------------------------------------------

def actions_assertion():
    return {"label": "c2pa.actions",
            "data": {"actions": [{"action": "c2pa.created",
                                  "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCreation"}]}}


def training_assertion(label, keys, uses, constraint_info=None):
    entries = {}
    for key, use in zip(keys, uses):
        entry = {"use": use}
        if constraint_info and key in constraint_info:
            entry["constraint_info"] = constraint_info[key]
        entries[key] = entry
    return {"label": label, "data": {"entries": entries}}


def manifest(title, *assertions):
    return {"claim_generator_info": [{"name": "winnow-gen_c2pa_fixtures", "version": "1"}],
            "title": title, "assertions": [actions_assertion(), *assertions]}


def padding_assertion(size):
    """A custom assertion of about `size` bytes of text (so the manifest store outgrows one APP11 segment)."""
    line = "winnow c2pa fixture padding: the manifest store must span several APP11 segments.\n"
    return {"label": "org.winnow.test.padding", "data": {"padding": (line * (size // len(line) + 1))[:size]}}


def fixtures():
    """(file name, container, manifest or an error to expect) for every fixture."""
    nope = ["notAllowed"] * 4
    out = []
    for fmt in ("jpeg", "png", "webp"):
        f = f"c2pa_{fmt}_training_notallowed.{EXT[fmt]}"
        out.append((f, fmt, manifest(f, training_assertion("cawg.training-mining", CAWG_KEYS, nope))))
    j = [
        ("c2pa_jpeg_training_allowed.jpg",
         training_assertion("cawg.training-mining", CAWG_KEYS, ["allowed"] * 4)),
        ("c2pa_jpeg_training_constrained.jpg",
         training_assertion("cawg.training-mining", CAWG_KEYS, ["constrained", "allowed", "allowed", "allowed"],
                            {"cawg.ai_training": "Training allowed only with a licence from Winnow Test; "
                                                 "contact licensing@example.com"})),
        ("c2pa_jpeg_genai_notallowed.jpg",
         training_assertion("cawg.training-mining", CAWG_KEYS, ["allowed", "notAllowed", "allowed", "allowed"])),
        ("c2pa_jpeg_legacy_c2pa_training_mining.jpg",
         training_assertion("c2pa.training-mining", C2PA_KEYS, nope)),
        ("c2pa_jpeg_no_training_assertion.jpg", None),
        ("c2pa_jpeg_multisegment_notallowed.jpg",
         training_assertion("cawg.training-mining", CAWG_KEYS, nope)),
    ]
    for f, t in j:
        extra = [t] if t else []
        if "multisegment" in f:
            extra.append(padding_assertion(150_000))
        out.append((f, "jpeg", manifest(f, *extra)))
    return out


# --- reading back --------------------------------------------------------------------------------------------------

def expected_from_reader(c2pa, ctx, fmt, data):
    """What c2pa.Reader says: training label, entry -> use, constraint_info, validation state, assertion labels."""
    reader = c2pa.Reader(MIME[fmt], io.BytesIO(data), context=ctx)
    store = json.loads(reader.json())
    active = store["manifests"][store["active_manifest"]]
    labels = [a["label"] for a in active.get("assertions", [])]
    found = next((a for a in active.get("assertions", []) if a["label"] in TRAINING_LABELS), None)
    rec = {"format": MIME[fmt],
           "training_label": found["label"] if found else None,
           "entries": ({k: v.get("use") for k, v in sorted(found["data"]["entries"].items())} if found else None)}
    ci = {k: v["constraint_info"] for k, v in sorted((found or {"data": {"entries": {}}})["data"]["entries"].items())
          if "constraint_info" in v}
    if ci:
        rec["constraint_info"] = ci
    rec["assertions"] = labels
    rec["validation_state"] = store.get("validation_state")
    failures = [s["code"] for s in store.get("validation_status", [])]
    if failures:
        rec["validation_status"] = failures
    return rec


def generate():
    import c2pa

    chain, key, root = make_chain()
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", chain, key, None))
    build_ctx = c2pa.Context(settings=c2pa.Settings.from_dict({"builder": {"thumbnail": {"enabled": False}}}))
    read_ctx = c2pa.Context(settings=c2pa.Settings.from_dict({"trust": {"trust_anchors": root.decode()}}))
    supported = set(c2pa.Builder.get_supported_mime_types())
    print(f"c2pa-python {c2pa.__version__}, c2pa-rs {c2pa.sdk_version()}")

    expected = {"_generator": {"c2pa-python": c2pa.__version__, "c2pa-rs": c2pa.sdk_version(),
                               "script": "scripts/gen_c2pa_fixtures.py"},
                "fixtures": {}}
    failed = []
    for name, fmt, man in fixtures():
        path = os.path.join(OUT, name)
        if MIME[fmt] not in supported:
            failed.append((name, f"{MIME[fmt]} not in Builder.get_supported_mime_types()"))
            continue
        src = source_image(fmt)
        dest = io.BytesIO()
        try:
            builder = c2pa.Builder(man, context=build_ctx)
            builder.sign(signer, MIME[fmt], io.BytesIO(src), dest)
            data = dest.getvalue()
            rec = expected_from_reader(c2pa, read_ctx, fmt, data)
        except c2pa.C2paError as e:
            failed.append((name, f"{type(e).__name__}: {e}"))
            if os.path.exists(path):
                os.remove(path)
            continue
        with open(path, "wb") as f:
            f.write(data)
        rec["size"] = len(data)
        expected["fixtures"][name] = rec
        print(f"{name}: {len(data)} bytes, {rec['validation_state']}, {rec['training_label']} {rec['entries']}"
              f"{' ' + json.dumps(rec['constraint_info']) if 'constraint_info' in rec else ''}; "
              f"assertions {rec['assertions']}")
    if failed:
        expected["_failed"] = {n: why for n, why in failed}
    with open(os.path.join(OUT, "c2pa_expected.json"), "w") as f:
        json.dump(expected, f, indent=2, sort_keys=False)
        f.write("\n")
    for n, why in failed:
        print(f"FAILED {n}: {why}", file=sys.stderr)


# --- carriage and JUMBF dump (no c2pa library) ---------------------------------------------------------------------

def jpeg_app11(data):
    """[(offset, CI, En, Z, payload)] for the JPEG XT / JUMBF APP11 segments of a JPEG."""
    segs, i = [], 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker in (0xD9, 0xDA):
            break
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        body = data[i + 4:i + 2 + length]
        if marker == 0xEB and body[:2] == b"JP":
            en, z = struct.unpack(">HI", body[2:8])
            segs.append((i, body[:2], en, z, body[8:]))
        i += 2 + length
    return segs


def carriage(data):
    """(description lines, the JUMBF bytes of the manifest store) for a JPEG, PNG or WebP."""
    lines = []
    if data[:2] == b"\xff\xd8":
        segs = jpeg_app11(data)
        jumbf = b""
        for n, (off, ci, en, z, payload) in enumerate(segs):
            lbox, tbox = struct.unpack(">I4s", payload[:8])
            lines.append(f"APP11 @{off}: segment length {len(payload) + 10}, CI={ci.decode()} En={en} Z={z}, "
                         f"box header LBox={lbox} TBox={tbox.decode('latin-1')}, payload {len(payload)}")
            jumbf += payload if n == 0 else payload[8:]  # continuation segments repeat the 8-byte box header
        return lines, jumbf
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        i = 8
        while i < len(data):
            length, kind = struct.unpack(">I4s", data[i:i + 8])
            if kind == b"caBX":
                lines.append(f"PNG caBX chunk @{i}: {length} bytes")
                return lines, data[i + 8:i + 8 + length]
            i += 12 + length
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        i = 12
        while i < len(data):
            kind, length = struct.unpack("<4sI", data[i:i + 8])
            lines.append(f"WebP chunk {kind.decode('latin-1')!r} @{i}: {length} bytes")
            if kind == b"C2PA":
                return lines, data[i + 8:i + 8 + length]
            i += 8 + length + (length & 1)
    return lines, b""


def boxes(data, depth, out):
    i = 0
    while i + 8 <= len(data):
        lbox, tbox = struct.unpack(">I4s", data[i:i + 8])
        hdr = 8
        if lbox == 1:
            lbox, hdr = struct.unpack(">Q", data[i + 8:i + 16])[0], 16
        elif lbox == 0:
            lbox = len(data) - i
        body = data[i + hdr:i + lbox]
        t = tbox.decode("latin-1")
        if tbox == b"jumb":
            dlen, dtype = struct.unpack(">I4s", body[:8])
            d = body[8:dlen]
            uuid, toggles = d[:16], d[16]
            label = d[17:].split(b"\0")[0].decode() if toggles & 2 else None
            ctype = {b"cbor": "cbor", b"json": "json", b"c2pa": "c2pa", b"c2ma": "c2ma", b"c2as": "c2as",
                     b"c2cl": "c2cl", b"c2cs": "c2cs", b"bfdb": "bfdb", b"bidb": "bidb", b"jp2c": "jp2c",
                     b"uuid": "uuid"}.get(uuid[:4], uuid.hex())
            out.append(f"{'  ' * depth}jumb {lbox} label={label!r} type={ctype} toggles=0x{toggles:02x}")
            boxes(body[dlen:], depth + 1, out)
        else:
            extra = ""
            if tbox == b"json":
                extra = " " + body[:60].decode("utf-8", "replace")
            elif tbox in (b"cbor", b"uuid", b"bfdb", b"bidb", b"c2sh"):
                extra = " " + body[:12].hex()
            out.append(f"{'  ' * depth}{t} {lbox}{extra}")
        i += lbox


def dump(path):
    with open(path, "rb") as f:
        data = f.read()
    lines, jumbf = carriage(data)
    print(f"== {path} ({len(data)} bytes, manifest store {len(jumbf)} bytes)")
    for line in lines:
        print("  " + line)
    out = []
    boxes(jumbf, 1, out)
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--dump":
        for p in sys.argv[2:]:
            dump(p)
    else:
        generate()
