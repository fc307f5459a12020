/*
 * mxfwine.exe: installs the mxfloop kernel service (System32\drivers\mxfloop.sys), starts it,
 * waits for the test PortCls to finish (its log C:\mxfloop-wine.log says TEST-DONE), stops
 * the service (DriverUnload: the leak report), waits for the FINAL line, removes the service
 * and prints the log. The driver's Parameters: see write_parameters. Exit code 0 only for "FINAL: PASS". Every wait is bounded. (Plain
 * `net start` returns at once and Wine then shuts its driver host down before the test ran.)
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PATH "C:\\mxfloop-wine.log"

static char g_log[1 << 18];

static int log_has(const char *what)
{
    HANDLE h = CreateFileA(LOG_PATH, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           OPEN_EXISTING, 0, NULL);
    DWORD n = 0;
    if (h == INVALID_HANDLE_VALUE)
        return 0;
    ReadFile(h, g_log, sizeof g_log - 1, &n, NULL);
    CloseHandle(h);
    g_log[n] = 0;
    return strstr(g_log, what) != NULL;
}

static int wait_for(const char *what, DWORD ms)
{
    for (DWORD t = 0; t < ms; t += 50) {
        if (log_has(what))
            return 1;
        Sleep(50);
    }
    return log_has(what);
}

static int wait_state(SC_HANDLE svc, DWORD state, DWORD ms)
{
    SERVICE_STATUS st;
    for (DWORD t = 0; t < ms; t += 50) {
        if (QueryServiceStatus(svc, &st) && st.dwCurrentState == state)
            return 1;
        Sleep(50);
    }
    return 0;
}

/* Services\mxfloop\Parameters as the INF writes them (TraceLevel 2, the feedback guard's rate
 * FeedbackMaxMessagesPerSecond 31250) with CaptureMode and, if given, the feedback guard's rate
 * as given, and two cables, the second with a name of its own; the device
 * interface keys of the test's device-interface shim are removed first, so that every
 * FriendlyName the test reads was written by this run. */
static int write_parameters(DWORD capture_mode, DWORD feedback)
{
    static const char names[] = "MxfLoop 1\0Wine Cable Two\0"; /* and the string's own NUL */
    HKEY key;
    DWORD trace = 2, cables = 2;
    RegDeleteTreeA(HKEY_LOCAL_MACHINE, "System\\CurrentControlSet\\Services\\mxfloop\\WineDeviceInterfaces");
    LONG r = RegCreateKeyExA(HKEY_LOCAL_MACHINE, "System\\CurrentControlSet\\Services\\mxfloop\\Parameters", 0, NULL,
                             0, KEY_ALL_ACCESS, NULL, &key, NULL);
    if (r != ERROR_SUCCESS)
        return 0;
    r = RegSetValueExA(key, "TraceLevel", 0, REG_DWORD, (const BYTE *)&trace, sizeof trace);
    if (r == ERROR_SUCCESS)
        r = RegSetValueExA(key, "CaptureMode", 0, REG_DWORD, (const BYTE *)&capture_mode, sizeof capture_mode);
    if (r == ERROR_SUCCESS)
        r = RegSetValueExA(key, "CableCount", 0, REG_DWORD, (const BYTE *)&cables, sizeof cables);
    if (r == ERROR_SUCCESS)
        r = RegSetValueExA(key, "CableNames", 0, REG_MULTI_SZ, (const BYTE *)names, sizeof names);
    if (r == ERROR_SUCCESS)
        r = RegSetValueExA(key, "FeedbackMaxMessagesPerSecond", 0, REG_DWORD, (const BYTE *)&feedback,
                           sizeof feedback);
    RegCloseKey(key);
    return r == ERROR_SUCCESS;
}

/* usage: mxfwine.exe [CAPTURE_MODE [FEEDBACK_MAX]]   (CAPTURE_MODE 0: whole messages, the
 * default; 1: raw, as DMusUART. FEEDBACK_MAX: FeedbackMaxMessagesPerSecond, default 31250 as
 * the INF; below 10000 the test PortCls makes its feedback run) */
int main(int argc, char **argv)
{
    SC_HANDLE scm, svc;
    SERVICE_STATUS st;
    int rc = 1;
    DWORD capture_mode = argc > 1 ? (DWORD)atoi(argv[1]) : 0;
    DWORD feedback = argc > 2 ? (DWORD)strtoul(argv[2], NULL, 10) : 31250;
    DeleteFileA(LOG_PATH);
    scm = OpenSCManagerA(NULL, NULL, SC_MANAGER_ALL_ACCESS);
    if (!scm) {
        printf("mxfwine: OpenSCManager failed: %lu\n", GetLastError());
        return 2;
    }
    svc = OpenServiceA(scm, "mxfloop", SERVICE_ALL_ACCESS);
    if (svc) {
        ControlService(svc, SERVICE_CONTROL_STOP, &st);
        DeleteService(svc);
        CloseServiceHandle(svc);
    }
    svc = CreateServiceA(scm, "mxfloop", "mxfloop", SERVICE_ALL_ACCESS, SERVICE_KERNEL_DRIVER, SERVICE_DEMAND_START,
                         SERVICE_ERROR_NORMAL, "C:\\windows\\system32\\drivers\\mxfloop.sys", NULL, NULL, NULL, NULL, NULL);
    if (!svc) {
        printf("mxfwine: CreateService failed: %lu\n", GetLastError());
        return 2;
    }
    if (!write_parameters(capture_mode, feedback)) {
        printf("mxfwine: writing Services\\mxfloop\\Parameters failed: %lu\n", GetLastError());
        goto out;
    }
    if (!StartServiceA(svc, 0, NULL)) {
        printf("mxfwine: StartService failed: %lu\n", GetLastError());
        goto out;
    }
    if (!wait_for("TEST-DONE", 120000))
        printf("mxfwine: the test did not finish within 120 s\n");
    if (!ControlService(svc, SERVICE_CONTROL_STOP, &st))
        printf("mxfwine: ControlService(STOP) failed: %lu\n", GetLastError());
    if (!wait_for("FINAL:", 30000))
        printf("mxfwine: no FINAL line within 30 s of the stop (DriverUnload did not run or hung)\n");
    if (!wait_state(svc, SERVICE_STOPPED, 10000))
        printf("mxfwine: the service did not stop within 10 s\n");
    log_has("");
    fputs(g_log, stdout);
    rc = strstr(g_log, "FINAL: PASS") ? 0 : 1;
out:
    DeleteService(svc);
    CloseServiceHandle(svc);
    CloseServiceHandle(scm);
    return rc;
}
