"""Shared by the speech benchmarks: test audio made on this machine (flite
speaks, sox makes telephone audio), the OpenAI audio endpoints as a client
calls them, and word error rate.

    from speechlib import HARVARD, digit_strings, speak, telephone, transcribe, wer
"""
import json
import os
import random
import re
import subprocess
import urllib.error
import urllib.request
import uuid

# The first five lists of the Harvard sentences (IEEE 1969), the phonetically
# balanced set speech systems are tested with.
HARVARD = [
    "The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.", "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.", "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.", "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.", "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.", "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.", "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.", "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.", "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.", "The girl at the booth sold fifty bonds.",
    "The small pup gnawed a hole in the sock.", "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.", "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.", "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.", "The colt reared and threw the tall rider.",
    "It snowed, rained, and hailed the same morning.", "Read verse out loud for pleasure.",
    "Hoist the load to your left shoulder.", "Take the winding path to reach the lake.",
    "Note closely the size of the gas tank.", "Wipe the grease off his dirty face.",
    "Mend the coat before you go out.", "The wrist was badly strained and hung limp.",
    "The stray cat gave birth to kittens.", "The young girl gave no clear response.",
    "The meal was cooked before the bell rang.", "What joy there is in living.",
    "A king ruled the state in the early days.", "The ship was torn apart on the sharp reef.",
    "Sickness kept him home the third week.", "The wide road shimmered in the hot sun.",
    "The lazy cow lay in the cool grass.", "Lift the square stone over the fence.",
    "The rope will bind the seven books at once.", "Hop over the fence and plunge in.",
    "The friendly gang left the drug store.", "Mesh wire keeps chicks inside.",
]

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

# A digits-only JSGF grammar: what a phone menu or an account-number prompt
# listens for.
DIGITS_JSGF = """#JSGF V1.0;
grammar digits;
public <digits> = <digit>+;
<digit> = zero | oh | one | two | three | four | five | six | seven | eight | nine;
"""


def digit_strings(n=50, seed=11):
    """n strings of 4 to 10 digits, as words ("four one nine ...")."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(DIGITS) for _ in range(rng.randint(4, 10))) for _ in range(n)]


def speak(text, path, voice="slt"):
    """flite speaks `text` into the WAV file `path` (slt: 16 kHz)."""
    subprocess.run(["flite", "-voice", voice, "-t", text, "-o", path], check=True)
    return path


def telephone(src, dst):
    """Telephone quality: 8 kHz mono, band-limited by sox's resampler."""
    subprocess.run(["sox", "-q", src, "-r", "8000", "-c", "1", "-b", "16", dst], check=True)
    return dst


def multipart(fields, file_bytes, filename="audio"):
    boundary = "modelpool" + uuid.uuid4().hex
    out = []
    for name, value in fields:
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" %
                    (boundary, name, value)).encode())
    out.append(("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n" % (boundary, filename)).encode())
    out.append(file_bytes)
    out.append(("\r\n--%s--\r\n" % boundary).encode())
    return b"".join(out), "multipart/form-data; boundary=" + boundary


def transcribe(url, model, audio, fields=(), timeout=600):
    """POST /v1/audio/transcriptions; (status, parsed JSON or text)."""
    body, ctype = multipart([("model", model), *fields], audio)
    req = urllib.request.Request(url + "/v1/audio/transcriptions", data=body, method="POST",
                                 headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            data = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        data, status = e.read(), e.code
    try:
        return status, json.loads(data)
    except ValueError:
        return status, data.decode(errors="replace")


def synthesize(url, model, text, voice=None, response_format="wav", timeout=600):
    """POST /v1/audio/speech; (status, bytes)."""
    body = {"model": model, "input": text, "response_format": response_format}
    if voice:
        body["voice"] = voice
    req = urllib.request.Request(url + "/v1/audio/speech", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def words(text):
    return re.sub(r"[^a-z' ]", " ", text.lower().replace("-", " ")).split()


def edit_distance(ref, hyp):
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1]


def wer(pairs):
    """Word error rate over (reference, hypothesis) pairs: edits / reference words."""
    edits = sum(edit_distance(words(r), words(h)) for r, h in pairs)
    total = sum(len(words(r)) for r, _ in pairs)
    return edits / max(1, total)


def wav_seconds(data):
    """Duration of a 16-bit PCM WAV held in memory."""
    import io
    import wave
    with wave.open(io.BytesIO(data)) as w:
        return w.getnframes() / float(w.getframerate())
