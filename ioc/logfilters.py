"""Log hygiene: webhook paths carry integration tokens, which must never reach a log."""

import logging
import re

TOKEN_IN_PATH = re.compile(r"(/integrations/)[^/\s\"'?]+")


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = TOKEN_IN_PATH.sub(r"\1[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
