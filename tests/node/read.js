// Reads env files with the real npm dotenv and prints JSON on stdout; used by tests/test_reader_conformance.py.
// stdin: {"package": "dotenv" | "dotenv16" | "dotenv17", "files": [paths], "env": {NAME: value}, "override": bool}
// stdout: {"version": "...", "parse": [dotenv.parse(file) for each file],
//          "config": the processEnv after dotenv.config({path: files, processEnv: env, override})}
'use strict'
const fs = require('fs')

const input = JSON.parse(fs.readFileSync(0, 'utf8'))
const name = input.package || 'dotenv'
const dotenv = require(name)
const version = require(`${name}/package.json`).version
const parse = input.files.map((f) => dotenv.parse(fs.readFileSync(f)))
const processEnv = Object.assign({}, input.env || {})
dotenv.config({ path: input.files, processEnv, override: Boolean(input.override), quiet: true })
process.stdout.write(JSON.stringify({ version, parse, config: processEnv }))
