"""bulkpatch: change many Webex meetings at once, safely and resumably."""

__version__ = "0.1.0"
