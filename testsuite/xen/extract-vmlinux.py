#!/usr/bin/env python3
"""Writes the ELF vmlinux inside a Debian (XZ-compressed) bzImage, so that Xen under emulation loads the
ELF instead of running the XZ decompressor in emulated code (minutes).  usage: extract-vmlinux.py BZIMAGE OUT"""
import lzma
import sys

data = open(sys.argv[1], 'rb').read()
start = data.find(b'\xfd7zXZ\x00')
if start < 0:
    sys.exit("no XZ stream in " + sys.argv[1])
elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[start:])
if elf[:4] != b'\x7fELF':
    sys.exit("the XZ stream is not an ELF image")
open(sys.argv[2], 'wb').write(elf)
print(f"{sys.argv[2]}: {len(elf)} bytes")
