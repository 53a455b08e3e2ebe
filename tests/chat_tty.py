#!/usr/bin/env python3
"""chat_tty.py - talk to `backbot chat` on a pseudo-terminal, as a person at
a terminal does, and print everything it showed.

usage: tests/chat_tty.py PATH/TO/backbot LINE...
Each LINE is typed followed by Enter; "<up>" stands for the up arrow (the
line editor's history).  Exits 1 when the program did not end in time, 77
when this machine has no pseudo-terminals to offer.
"""
import os
import pty
import select
import sys
import time


def read_for(fd, seconds, out):
    end = time.time() + seconds
    while time.time() < end:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return
            if not data:
                return
            out.append(data)


def main():
    binary, lines = sys.argv[1], sys.argv[2:]
    try:
        pid, fd = pty.fork()
    except OSError as e:
        print("no pseudo-terminal here: %s" % e)
        return 77
    if pid == 0:
        os.execv(binary, [binary, "chat"])
    out = []
    read_for(fd, 2.0, out)
    for line in lines:
        keys = b"\x1b[A" if line == "<up>" else line.encode()
        os.write(fd, keys + b"\r")
        read_for(fd, 1.0, out)
    for _ in range(50):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        sys.stdout.write(b"".join(out).decode("utf-8", "replace"))
        return 1
    sys.stdout.write(b"".join(out).decode("utf-8", "replace"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
