-- Firmware updates and log uploads: the OCPP 2.0.1 requestId of UpdateFirmware and GetLog
-- when the operator gives none (the charger echoes it in FirmwareStatusNotification and
-- LogStatusNotification, stored in charge_point_events).

CREATE SEQUENCE ocpp_request_id AS integer START 1;
