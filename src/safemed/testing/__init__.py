"""Testing utilities shipped with safemed: a loopback OpenAI-compatible stand-in server.

Use it to try a pipeline offline or to test retries: it answers chat completions with scripted
text after a set latency and can inject 429s, 500s, garbage bodies and stalls.
"""

from safemed.testing.standin import Faults, StandinServer, hashed_letter_answer

__all__ = ["Faults", "StandinServer", "hashed_letter_answer"]
