// Each test file loads src/ afresh, so each gets its own hashing thread: end it with the file.
import { closeHashThread } from "../src/lib/hash-thread";

afterAll(() => closeHashThread());
