//! Fixed identifiers the simulated tenant shares with the real Microsoft cloud: the
//! Microsoft resource apps, a subset of Microsoft Graph's permissions (ids and values from
//! `testdata/providers/microsoft-entra/scopes.json`) and a few first-party client apps from
//! `microsoft_first_party_apps.json`.

/// Microsoft's own tenants ("Microsoft Services" and Microsoft corp, API.md §1).
pub(crate) const MICROSOFT_SERVICES_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
/// Microsoft corp's tenant, owner of some first-party apps such as Graph Explorer.
pub(crate) const MICROSOFT_CORP_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Microsoft Graph's appId.
pub(crate) const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// Office 365 Exchange Online's appId.
pub(crate) const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";
/// Office 365 SharePoint Online's appId.
pub(crate) const SHAREPOINT_APP_ID: &str = "00000003-0000-0ff1-ce00-000000000000";

/// Microsoft Graph application permissions: (appRole id, value).
pub(crate) const GRAPH_APP_ROLES: &[(&str, &str)] = &[
    (
        "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
        "Application.Read.All",
    ),
    ("7ab1d382-f21e-4acd-a863-ba3e13f7da61", "Directory.Read.All"),
    ("b0afded3-3588-46d8-8b3d-9842eff778da", "AuditLog.Read.All"),
    (
        "8e8e4742-1d95-4f68-9d56-6ee75648c72a",
        "DelegatedPermissionGrant.ReadWrite.All",
    ),
    (
        "06b708a9-e830-4db3-a914-8e69da51d44f",
        "AppRoleAssignment.ReadWrite.All",
    ),
    (
        "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
        "Application.ReadWrite.All",
    ),
    ("810c84a8-4a9e-49e6-bf7d-12d183f40d01", "Mail.Read"),
    ("e2a3a72e-5f79-4c64-b1b1-878b674786c9", "Mail.ReadWrite"),
    ("b633e1c5-b582-4048-a93e-9f11b44c7e96", "Mail.Send"),
    ("df021288-bdef-4463-88db-98f22de89214", "User.Read.All"),
    ("741f803b-c850-494e-b5df-cde7c675a1ca", "User.ReadWrite.All"),
    ("5b567255-7703-4780-807c-7be8301ae99b", "Group.Read.All"),
    (
        "62a82d76-70ea-41e2-9197-370581804d09",
        "Group.ReadWrite.All",
    ),
    ("01d4889c-1287-42c6-ac1f-5d1e02578ef6", "Files.Read.All"),
    (
        "75359482-378d-4052-8f01-80520e7db3cd",
        "Files.ReadWrite.All",
    ),
    ("332a536c-c7ef-4017-ab91-336970924f0d", "Sites.Read.All"),
    (
        "9492366f-7969-46a4-8d15-ed1a20078fff",
        "Sites.ReadWrite.All",
    ),
    ("798ee544-9d2d-430c-a058-570e29e34338", "Calendars.Read"),
    (
        "ef54d2bf-783f-4e0f-bca1-3210c0444d99",
        "Calendars.ReadWrite",
    ),
    ("089fe4d0-434a-44c5-8827-41ba8a0b17f5", "Contacts.Read"),
    ("6b7d71aa-70aa-4810-a8d9-5d9fb2830017", "Chat.Read.All"),
    (
        "7b2449af-6ccd-4f4d-9f78-e550c193f0d1",
        "ChannelMessage.Read.All",
    ),
    ("2280dda6-0bfd-44ee-a2f4-cb867cfc4c1e", "Team.ReadBasic.All"),
    ("230c1aed-a721-4c5d-9cb4-a90514e508ef", "Reports.Read.All"),
    (
        "bf394140-e372-4bf9-a898-299cfc7564e5",
        "SecurityEvents.Read.All",
    ),
    (
        "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8",
        "RoleManagement.ReadWrite.Directory",
    ),
    (
        "498476ce-e0fe-48b0-b801-37ba7e2685c6",
        "Organization.Read.All",
    ),
    ("7438b122-aefc-4978-80ed-43db9fcc7715", "Device.Read.All"),
];

/// The auditor's application permissions: the read set the README asks for, plus the
/// three revocation permissions (the simulator lets the auditor revoke).
pub(crate) const AUDITOR_ROLES: &[&str] = &[
    "Application.Read.All",
    "Directory.Read.All",
    "AuditLog.Read.All",
    "DelegatedPermissionGrant.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
    "Application.ReadWrite.All",
];

/// Microsoft Graph delegated permissions: (oauth2PermissionScope id, value, admin
/// consent required).
pub(crate) const GRAPH_DELEGATED: &[(&str, &str, bool)] = &[
    ("37f7f235-527c-4136-accd-4a02d197296e", "openid", false),
    ("14dad69e-099b-42c9-810b-d002981feec1", "profile", false),
    ("64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0", "email", false),
    (
        "7427e0e9-2fba-42fe-b0c0-848c9e6a8182",
        "offline_access",
        false,
    ),
    ("e1fe6dd8-ba31-4d61-89e7-88639da4683d", "User.Read", false),
    (
        "b340eb25-3456-403f-be2f-af7a0d370277",
        "User.ReadBasic.All",
        false,
    ),
    ("570282fd-fa5c-430d-a7fd-fc8dc98a9dca", "Mail.Read", false),
    (
        "024d486e-b451-40bb-833d-3e66d98c5c73",
        "Mail.ReadWrite",
        false,
    ),
    ("e383f46e-2787-4529-855e-0e479a3ffac0", "Mail.Send", false),
    (
        "465a38f9-76ea-45b9-9f34-9e8b0d4b0b42",
        "Calendars.Read",
        false,
    ),
    (
        "1ec239c2-d7c9-4623-a91a-a9775856bb36",
        "Calendars.ReadWrite",
        false,
    ),
    (
        "ff74d97f-43af-4b68-9f2a-b77ee6968c5d",
        "Contacts.Read",
        false,
    ),
    ("10465720-29dd-4523-a11a-6a75c743c9d9", "Files.Read", false),
    (
        "df85f4d6-205c-4ac5-a5ea-6bf408dba283",
        "Files.Read.All",
        false,
    ),
    (
        "863451e7-0667-486c-a5d6-d135439485f0",
        "Files.ReadWrite.All",
        false,
    ),
    (
        "205e70e5-aba6-4c52-a976-6d2d46c48043",
        "Sites.Read.All",
        false,
    ),
    ("f501c180-9344-439a-bca0-6cbf209fd270", "Chat.Read", false),
    (
        "2219042f-cab5-40cc-b0d2-16b1540b4c5f",
        "Tasks.ReadWrite",
        false,
    ),
    ("371361e4-b9e2-4a3f-8315-2a301a3b0a3d", "Notes.Read", false),
    (
        "06da0dbc-49e2-44d2-8312-53f166ab848a",
        "Directory.Read.All",
        true,
    ),
    (
        "5f8c59db-677d-491f-a6b8-5f174b11ec1d",
        "Group.Read.All",
        true,
    ),
    (
        "485be79e-c497-4b35-9400-0e3fa7f2a5d4",
        "Team.ReadBasic.All",
        false,
    ),
    (
        "ebf0f66e-9fb1-49e4-a278-222f76911cf4",
        "ChannelMessage.Send",
        false,
    ),
    ("ba47897c-39ec-4d83-8086-ee8256fa737d", "People.Read", false),
    (
        "76bc735e-aecd-4a1d-8b4c-2b915deabb79",
        "Presence.Read",
        false,
    ),
];

/// What every sign-in app asks for first.
pub(crate) const SIGN_IN_SCOPES: &[&str] = &["openid", "profile", "offline_access", "User.Read"];

/// First-party client apps in the tenant: (appId, display name, owner tenant). Graph
/// Command Line Tools is owned by neither Microsoft tenant, so only the first-party list
/// tells it apart; the last one is in no list, so only its owner tenant does.
pub(crate) const FIRST_PARTY_CLIENTS: &[(&str, &str, &str)] = &[
    (
        "de8bc8b5-d9f9-48b1-a8ad-b748da725064",
        "Graph Explorer",
        MICROSOFT_CORP_TENANT,
    ),
    (
        "14d82eec-204b-4c2f-b7e8-296a70dab67e",
        "Microsoft Graph Command Line Tools",
        "cdc5aeea-15c5-4db6-b079-fcadd2505dc2",
    ),
    (
        "73c2949e-da2d-457a-9607-fcc665198967",
        "Azure Purview",
        MICROSOFT_SERVICES_TENANT,
    ),
    (
        "5c0e5b1a-3f7d-4c1e-9a2b-6d8e0f1a2b3c",
        "Microsoft Insights Connector (preview)",
        MICROSOFT_SERVICES_TENANT,
    ),
];

/// The certificate registered for the auditor app: its SHA-1 thumbprint as Entra shows
/// it. A thumbprint is public (Entra lists it on the app registration); the simulator
/// checks the assertion's `x5t` header against it and the signature with the run's key.
pub(crate) const AUDITOR_CERT_THUMBPRINT: &str = "84E05C1D98BCE3A5421D225B140B36E86A3D5534";
