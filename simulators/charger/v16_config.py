"""OCPP 1.6 configuration keys of the simulated charger (GetConfiguration/ChangeConfiguration)."""

from __future__ import annotations

from simulators.charger.model import ChargerConfig

SUPPORTED_MEASURANDS = frozenset(
    {"Energy.Active.Import.Register", "Power.Active.Import", "Current.Import", "Voltage"}
)
DEFAULT_MEASURANDS = "Energy.Active.Import.Register,Power.Active.Import,Current.Import"

READONLY_KEYS = frozenset(
    {
        "NumberOfConnectors",
        "SupportedFeatureProfiles",
        "GetConfigurationMaxKeys",
        "LocalAuthListMaxLength",
        "SendLocalListMaxLength",
        "ReserveConnectorZeroSupported",
    }
)
INTEGER_KEYS = frozenset(
    {
        "HeartbeatInterval",
        "MeterValueSampleInterval",
        "ClockAlignedDataInterval",
        "ConnectionTimeOut",
        "ResetRetries",
        "TransactionMessageAttempts",
        "TransactionMessageRetryInterval",
        "WebSocketPingInterval",
    }
)
BOOLEAN_KEYS = frozenset(
    {
        "AuthorizeRemoteTxRequests",
        "AuthorizationCacheEnabled",
        "AllowOfflineTxForUnknownId",
        "LocalAuthorizeOffline",
        "LocalPreAuthorize",
        "LocalAuthListEnabled",
        "StopTransactionOnEVSideDisconnect",
        "StopTransactionOnInvalidId",
        "UnlockConnectorOnEVSideDisconnect",
    }
)
MEASURAND_KEYS = frozenset(
    {"MeterValuesSampledData", "MeterValuesAlignedData", "StopTxnSampledData", "StopTxnAlignedData"}
)


def default_configuration(config: ChargerConfig) -> dict[str, str]:
    """The keys a Core-profile 1.6 charger reports, with this charger's values."""
    return {
        "AllowOfflineTxForUnknownId": "false",
        "AuthorizationCacheEnabled": "true",
        "AuthorizeRemoteTxRequests": "false",
        "ClockAlignedDataInterval": "0",
        "ConnectionTimeOut": "60",
        "GetConfigurationMaxKeys": "50",
        "HeartbeatInterval": "300",
        "LocalAuthListEnabled": "true",
        "LocalAuthListMaxLength": "1000",
        "LocalAuthorizeOffline": "true",
        "LocalPreAuthorize": "false",
        "MeterValuesAlignedData": "Energy.Active.Import.Register",
        "MeterValuesSampledData": DEFAULT_MEASURANDS,
        # OCPP defines this as whole seconds; the simulator may sample faster.
        "MeterValueSampleInterval": str(max(1, round(config.meter_interval_s))),
        "NumberOfConnectors": str(config.connectors),
        "ReserveConnectorZeroSupported": "false",
        "ResetRetries": "3",
        "SendLocalListMaxLength": "1000",
        "StopTransactionOnEVSideDisconnect": "true",
        "StopTransactionOnInvalidId": "true",
        "StopTxnAlignedData": "",
        "StopTxnSampledData": "Energy.Active.Import.Register",
        "SupportedFeatureProfiles": "Core,RemoteTrigger,Reservation,LocalAuthListManagement",
        "TransactionMessageAttempts": "3",
        "TransactionMessageRetryInterval": "60",
        "UnlockConnectorOnEVSideDisconnect": "true",
        "WebSocketPingInterval": str(round(config.ping_interval_s or 0)),
    }


def check_change(configuration: dict[str, str], key: str, value: str) -> tuple[str, str]:
    """ChangeConfiguration status for ``key = value`` and the normalised value to store."""
    if key not in configuration:
        return "NotSupported", value
    if key in READONLY_KEYS:
        return "Rejected", value
    if key in INTEGER_KEYS:
        try:
            number = int(value)
        except ValueError:
            return "Rejected", value
        return ("Accepted", str(number)) if number >= 0 else ("Rejected", value)
    if key in BOOLEAN_KEYS:
        lowered = value.strip().lower()
        return ("Accepted", lowered) if lowered in ("true", "false") else ("Rejected", value)
    if key in MEASURAND_KEYS:
        items = [item.strip() for item in value.split(",") if item.strip()]
        if all(item in SUPPORTED_MEASURANDS for item in items):
            return "Accepted", ",".join(items)
        return "Rejected", value
    return "Accepted", value
