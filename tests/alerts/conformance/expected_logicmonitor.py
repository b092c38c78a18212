"""Hand-checked outcomes for the LogicMonitor body in shared/payloads/.

The only file is a vendor's body template with its tokens unrendered ("##ALERTID##"): it is
refused, saying the template was not rendered, rather than opening an alert with id "##ALERTID##".
"""

KIND = "logicmonitor"
DIRECTORIES = ["logicmonitor"]

EXPECTED = {
    "bigpanda-custom-http-delivery.TEMPLATE-unrendered.json": {
        "outcome": "PayloadError: template was not rendered",
    },
}
